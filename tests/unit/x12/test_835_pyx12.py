"""Cross-check with pyx12 4.0 (map 835.5010.X221.A1.xml): on every 835 sample pyx12 accepts,
our reader finds no problem; the samples pyx12 rejects or crashes on are documented in
test_835_samples.py with the exact problems we report."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from integration.x12.t835_005010x221a1 import read_835

pyx12_params = pytest.importorskip("pyx12.params")
pyx12_document = pytest.importorskip("pyx12.x12n_document")

SAMPLES = sorted(Path("/work/shared/data/x12").glob("835__*"))


def pyx12_accepts(path: Path) -> bool | None:
    """True/False as pyx12 validates; None when pyx12 crashes on the file."""
    # opened as pyx12 opens a path (ASCII), but closed by us when pyx12 crashes
    with path.open(encoding="ascii") as src:
        return _run(src)


def _run(src: io.TextIOBase) -> bool | None:
    logging.disable(logging.CRITICAL)
    try:
        return bool(
            pyx12_document.x12n_document(
                param=pyx12_params.params(),
                src_file=src,
                fd_997=None,
                fd_html=None,
                fd_xmldoc=None,
                fd_json=io.StringIO(),
            )
        )
    except Exception:  # pyx12 4.0 crashes on some files (IndexError, UnicodeDecodeError)
        return None
    finally:
        logging.disable(logging.NOTSET)


def test_pyx12_verdicts_are_as_documented() -> None:
    verdicts = {p.name: pyx12_accepts(p) for p in SAMPLES}
    assert {n for n, v in verdicts.items() if v} == {
        "835__affect-therapeutics__emedny_sample.txt",
        "835__azoner__835_mult_loops.txt",
    }
    assert verdicts["835__affect-therapeutics__sample_835.txt"] is None  # pyx12 crashes


ACCEPTED = [
    p
    for p in SAMPLES
    if p.name in ("835__affect-therapeutics__emedny_sample.txt", "835__azoner__835_mult_loops.txt")
]


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.name)
def test_no_problem_where_pyx12_accepts(path: Path) -> None:
    assert pyx12_accepts(path) is True
    models, problems = read_835(path.read_bytes())
    assert models
    assert problems == []
