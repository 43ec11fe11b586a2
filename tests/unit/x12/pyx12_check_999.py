"""Validate X12 text with pyx12 (`x12n_document`, the call its `x12valid` script makes) and
return its error messages, flattened from the JSON error tree (interchange, group, transaction,
segment, element). pyx12 picks the map from GS01/GS08 (999.5010X231.A1.xml for 005010X231A1,
277.5010.X212.xml / 277.5010.X214.xml for 277s). The map folder is a temporary copy of pyx12's
with one line added to its index (see `_map_dir`)."""

from __future__ import annotations

import functools
import io
import json
import logging
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Any

import pyx12.params
import pyx12.x12n_document


def _walk(node: Any, where: str, out: list[str]) -> None:
    if isinstance(node, dict):
        for err in node.get("errors", []):
            out.append(f"{where}: {err.get('err_cde')} {err.get('err_str')}")
        label = node.get("seg_id") or node.get("trn_set_id") or node.get("gs_control_num") or ""
        for key in ("interchanges", "groups", "transactions", "segments", "elements"):
            for child in node.get(key, []):
                _walk(child, f"{where}/{label}" if label else where, out)


@functools.cache
def _map_dir() -> str:
    """pyx12's map folder copied, with maps.xml also listing 277.5010.X212.xml: pyx12 4.0 ships
    that map but its index lists only the X214 277 (so X212 277s would raise 'Map not found')."""
    target = Path(tempfile.mkdtemp(prefix="pyx12-maps-"))
    source = Path(str(files("pyx12").joinpath("map")))
    for item in source.iterdir():
        if item.is_file():
            shutil.copy(item, target / item.name)
    index = (target / "maps.xml").read_text(encoding="utf-8")
    entry = '<map vriic="005010X214" fic="HN" abbr="277">277.5010.X214.xml</map>'
    x212 = '<map vriic="005010X212" fic="HN" abbr="277">277.5010.X212.xml</map>'
    assert entry in index
    (target / "maps.xml").write_text(index.replace(entry, f"{entry}\n    {x212}"), encoding="utf-8")
    return str(target)


def pyx12_errors(text: str) -> list[str]:
    """pyx12's errors for `text` ([] when it validates); a map pyx12 lacks raises EngineError."""
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    param = pyx12.params.params()
    errors_json = io.StringIO()
    valid = pyx12.x12n_document.x12n_document(
        param=param,
        src_file=io.StringIO(text),
        fd_997=None,
        fd_html=None,
        fd_xmldoc=None,
        fd_json=errors_json,
        map_path=_map_dir(),
    )
    out: list[str] = []
    _walk(json.loads(errors_json.getvalue() or "{}"), "", out)
    if not valid and not out:
        out.append("pyx12 reported the document invalid without a listed error")
    return out
