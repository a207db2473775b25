"""Offline model registry: finding, verifying and refusing weights (fake packages in tmp_path)."""

from __future__ import annotations

import hashlib
import re
import sys

import pytest

from carr_agent.errors import ConfigError, ModelError
from carr_agent.models import offline
from carr_agent.models.registry import DEFAULT_MODEL, MODELS, ModelSpec, get_spec
from tests.cli_support import run_cli

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def _spec(sha: str, n_parts: int = 3) -> ModelSpec:
    return ModelSpec(
        name="fake-model",
        title="Fake",
        parts=tuple((f"carr_fake_part{i}", f"data/part{i:02d}.bin") for i in range(1, n_parts + 1)),
        gguf_sha256=sha,
        gguf_bytes=sum(len(c) for c in CHUNKS),
        requirements="requirements-fake.txt",
        license="none",
        source="tests",
    )


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """Installed-looking packages holding the chunks, on sys.path, and an empty cache."""
    site = tmp_path / "site"
    for i, chunk in enumerate(CHUNKS, start=1):
        pkg = site / f"carr_fake_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text(
            "raise ImportError('untrusted package must not be imported')\n"
        )
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(offline.ENV_CACHE, str(tmp_path / "cache"))
    return site


GOOD_SHA = hashlib.sha256(b"".join(CHUNKS)).hexdigest()


def test_parts_are_found_without_importing_the_packages(fake_site):
    paths = offline.find_parts(_spec(GOOD_SHA))
    assert [p.read_bytes() for p in paths] == CHUNKS
    assert "carr_fake_part1" not in sys.modules


def test_assembled_file_joins_parts_in_order_and_is_verified(fake_site, tmp_path):
    out = offline.assemble_gguf(_spec(GOOD_SHA), tmp_path / "work")
    assert out.read_bytes() == b"".join(CHUNKS)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["fake-model.gguf"]


def test_sha_mismatch_is_refused_and_leaves_nothing_behind(fake_site, tmp_path):
    spec = _spec("0" * 64)
    with pytest.raises(ModelError, match="sha256") as info:
        offline.assemble_gguf(spec, tmp_path / "work")
    assert GOOD_SHA in str(info.value) and "carr-agent models install fake-model" in str(info.value)
    assert list((tmp_path / "work").iterdir()) == []
    with pytest.raises(ModelError, match="refusing to load"):
        offline.load_local_chat_model(spec, show_progress=False)
    assert not offline.is_installed(spec)
    assert not offline.converted_dir(spec).exists()


def test_reordered_parts_fail_verification(fake_site, tmp_path):
    spec = _spec(GOOD_SHA)
    swapped = ModelSpec(**{**spec.__dict__, "parts": (spec.parts[1], spec.parts[0], spec.parts[2])})
    with pytest.raises(ModelError, match="sha256"):
        offline.assemble_gguf(swapped, tmp_path / "work")


def test_missing_package_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv(offline.ENV_CACHE, str(tmp_path / "cache"))
    spec = _spec(GOOD_SHA)
    with pytest.raises(ModelError) as info:
        offline.load_local_chat_model(spec, show_progress=False)
    message = str(info.value)
    assert "carr-agent models install fake-model" in message
    assert "carr_fake_part1" in message
    assert "--require-hashes" in message


def test_missing_chunk_file_in_an_installed_package_is_reported(fake_site):
    (fake_site / "carr_fake_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelError, match=r"part02\.bin"):
        offline.find_parts(_spec(GOOD_SHA))


def test_verified_bytes_that_are_not_a_model_fail_conversion_cleanly(fake_site):
    spec = _spec(GOOD_SHA)
    with pytest.raises(ModelError, match="could not convert"):
        offline.ensure_installed(spec, show_progress=False)
    assert not offline.is_installed(spec)
    models_dir = offline.cache_root() / "models"
    assert not models_dir.exists() or list(models_dir.iterdir()) == []
    assert list((offline.cache_root() / "tmp").iterdir()) == []


def test_unknown_model_name_is_a_config_error_listing_known_names():
    with pytest.raises(ConfigError, match=r"qwen2\.5-0\.5b"):
        get_spec("gpt-7")


def test_spec_validation_rejects_a_bad_sha():
    with pytest.raises(ConfigError, match="sha256"):
        _spec("not-a-sha")


def test_cache_root_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(offline.ENV_CACHE, str(tmp_path / "c"))
    assert offline.converted_dir(DEFAULT_MODEL) == tmp_path / "c" / "models" / DEFAULT_MODEL


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_has_a_fully_hash_pinned_requirements_file(name):
    spec = MODELS[name]
    lines = [
        line.strip()
        for line in spec.requirements_path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9.]+ --hash=sha256:[0-9a-f]{64}", line), line
    pinned = {re.split("==", line)[0].replace("-", "_").lower() for line in lines}
    assert set(spec.packages) <= pinned


def test_cli_lists_models_and_says_how_to_install_them(tmp_path):
    result = run_cli("models", "list", env={offline.ENV_CACHE: str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "qwen2.5-0.5b" in out and "smollm2-135m" in out
    assert "carr-agent models install qwen2.5-0.5b" in out


def test_cli_install_of_unknown_model_fails_with_a_message(tmp_path):
    result = run_cli("models", "install", "gpt-7")
    assert result.returncode == 1
    assert "unknown local model" in result.stderr


def test_ensure_gguf_joins_once_then_reuses_and_redoes_a_changed_file(fake_site, monkeypatch):
    spec = _spec(GOOD_SHA)
    path = offline.ensure_gguf(spec, show_progress=False)
    assert path == offline.gguf_path(spec) and path.read_bytes() == b"".join(CHUNKS)

    calls = []
    real = offline.assemble_gguf
    monkeypatch.setattr(offline, "assemble_gguf", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert offline.ensure_gguf(spec, show_progress=False) == path and calls == []  # no re-hash

    path.write_bytes(b"tampered")  # size changes: the marker no longer matches, so re-verify
    assert offline.ensure_gguf(spec, show_progress=False).read_bytes() == b"".join(CHUNKS)
    assert calls == [1]


def test_ensure_gguf_refuses_a_wrong_sha(fake_site):
    with pytest.raises(ModelError, match="sha256"):
        offline.ensure_gguf(_spec("0" * 64), show_progress=False)
    assert not offline.gguf_path(_spec("0" * 64)).exists()


def test_unknown_engine_is_a_config_error():
    with pytest.raises(ConfigError, match="engine"):
        offline.resolve_engine("vllm-magic")
