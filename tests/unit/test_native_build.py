"""The HL7 hot path compiled with mypyc (integration/native.py) behaves as its Python source:
the same resources or the same located error for every fixture message, the benchmark's and
thousands of mutations of them; and what CI tests is what `make bench` measures."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from integration import native
from integration.mapping.hl7v2_transforms import load_feed_maps
from tests.support.hl7_mutations import cases, outcome

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_AS_PYTHON = """
import pickle, sys
from integration import native
from integration.mapping.hl7v2_transforms import load_feed_maps
from tests.support.hl7_mutations import cases, outcome
maps = load_feed_maps()
assert not native.compiled(), native.compiled()
pickle.dump([outcome(text, maps) for text in cases()], sys.stdout.buffer)
"""


def test_ci_runs_the_compiled_modules() -> None:
    import integration.fhir.resource_check
    import integration.hl7v2.message
    import integration.mapping.hl7v2  # noqa: F401

    if os.environ.get("DERMRCM_NATIVE") == "0":
        pytest.skip("DERMRCM_NATIVE=0: this run tests the modules as Python")
    if not native.built() and not IN_CI:
        pytest.skip("not compiled here (make native); CI requires it")
    assert native.compiled() == native.module_names()
    assert native.stale() == []


def test_the_installed_command_loads_them_from_outside_the_checkout(tmp_path: Path) -> None:
    """As `dermrcm hl7 listen` does: the package's path only, not the checkout's (each
    extension imports the group's shared library, which must be inside the package)."""
    if os.environ.get("DERMRCM_NATIVE") == "0" or (not native.built() and not IN_CI):
        pytest.skip("not compiled here (make native); CI requires it")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = (
        "import sys, integration.native as n, integration.mapping.hl7v2, "
        "integration.fhir.resource_check; print(n.compiled()); "
        f"assert {str(ROOT)!r} not in sys.path"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str(native.module_names())


def test_compiled_modules_map_every_message_as_python_does() -> None:
    if native.compiled() != native.module_names():
        pytest.skip("not compiled here: nothing to compare (make native)")
    env = {**os.environ, "DERMRCM_NATIVE": "0", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _AS_PYTHON], cwd=ROOT, env=env, capture_output=True, timeout=600
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    as_python = pickle.loads(result.stdout)
    maps = load_feed_maps()
    texts = list(cases())
    assert len(texts) == len(as_python)
    compared = errors = 0
    for text, expected in zip(texts, as_python, strict=True):
        assert outcome(text, maps) == expected, text
        compared += expected is not None
        errors += isinstance(expected, tuple)
    assert compared > 3000 and errors > 200, (compared, errors)


def test_an_edited_source_makes_its_extension_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "integration" / "hl7v2" / "message.py"
    source.parent.mkdir(parents=True)
    extension = source.with_name("message" + EXTENSION_SUFFIXES[0])
    extension.write_bytes(b"")
    source.write_text("# edited\n")
    os.utime(extension, (1_000_000, 1_000_000))
    assert native.extensions(source) == [extension]
    monkeypatch.setattr(native, "ROOT", tmp_path)
    assert native.stale() == [f"integration/hl7v2/message.py ({extension.name})"]
    assert native.main(["check"]) == 1
