"""Where the project's data folders are.

The data folders (`mappings/`, `fhir_profiles/`, `fixtures/`) live at the project root, beside
the packages. `DERMRCM_HOME` overrides the root (the Docker image sets it).
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The folder that holds `mappings/` and `fhir_profiles/`."""
    home = os.environ.get("DERMRCM_HOME")
    if home:
        return Path(home)
    here = Path(__file__).resolve().parent.parent
    if (here / "mappings").is_dir():
        return here
    return Path.cwd()


def mappings_dir() -> Path:
    """The data files; DERMRCM_MAPPINGS_DIR points elsewhere (a practice's own payer rules)."""
    override = os.environ.get("DERMRCM_MAPPINGS_DIR")
    return Path(override) if override else project_root() / "mappings"


def profiles_dir() -> Path:
    return project_root() / "fhir_profiles"


def fixtures_dir() -> Path:
    return project_root() / "fixtures"
