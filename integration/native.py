"""The HL7 ingest's hot path compiled to C extensions with mypyc (the mypy project's compiler).

The modules below are plain, mypy-strict Python; mypyc compiles each to an extension module
that sits beside its source (`message.cpython-311-x86_64-linux-gnu.so` next to `message.py`)
and is imported in its place. Same source, same behaviour (mypyc also enforces the type hints
at run time): 28% fewer instructions per message in-process, 12-21% less listener CPU per
message in the benchmark (docs/benchmarks.md, "Ninth pass"). Nothing depends on it being
there: without the extensions the same modules run as Python.

    python -m integration.native ensure   build when an extension is missing or older than its
                                          source (`make native`, before run, test and bench);
                                          if it can't be built, say why and run as Python
    python -m integration.native build    compile now
    python -m integration.native check    exit 1 if an extension is older than its source
    python -m integration.native clean    remove the extensions (run as plain Python)

DERMRCM_NATIVE=0 runs the modules as Python even where their extensions are built (a finder
ahead of the extension one, installed by integration/__init__.py): for an A/B measurement, and
for the test that compiled and Python map every message alike. `ensure` then builds nothing.

A stale extension would run old code in place of an edited source: `check` (run by the tests
at start-up, see tests/conftest.py) refuses that, and `make` rebuilds before `run`, `test` and
`bench`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Compiled together (calls between them are native); every other module stays Python.
MODULES: tuple[str, ...] = (
    "integration/hl7v2/message.py",
    "integration/mapping/hl7v2.py",
    "integration/fhir/resource_check.py",
)
# The group's shared library (the compiled code and mypyc's runtime), which each module's
# extension imports: inside the package, so that it is found wherever `integration` is (the
# `dermrcm` script has only the package on its path, not the checkout).
GROUP = "integration._native"


def module_names() -> list[str]:
    return [module.removesuffix(".py").replace("/", ".") for module in MODULES]


class _PythonSource(importlib.abc.MetaPathFinder):
    """Finds MODULES as their .py source (ahead of the path finder, which prefers extensions)."""

    def __init__(self) -> None:
        self.names = dict(zip(module_names(), MODULES, strict=True))

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        module = self.names.get(fullname)
        if module is None:
            return None
        return importlib.util.spec_from_file_location(fullname, ROOT / module)


def run_as_python() -> None:
    """Import MODULES from their source from now on (call before any of them is imported)."""
    loaded = [name for name in module_names() if name in sys.modules]
    if loaded:
        raise RuntimeError(f"already imported: {', '.join(loaded)}")
    if not any(isinstance(finder, _PythonSource) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PythonSource())


def compiled() -> list[str]:
    """The MODULES this interpreter has imported from an extension."""
    suffixes = tuple(_suffixes())
    return [
        name
        for name in module_names()
        if (module := sys.modules.get(name)) is not None
        and str(getattr(module, "__file__", "")).endswith(suffixes)
    ]


def describe() -> str:
    """How this process runs MODULES (call after they are imported), for a start-up line."""
    done = compiled()
    if not done:
        return "hot path as Python"
    old = stale()
    if old:
        return f"hot path compiled, STALE: {', '.join(old)} (make native)"
    return "hot path compiled with mypyc"


def _suffixes() -> list[str]:
    return list(importlib.machinery.EXTENSION_SUFFIXES)


def extensions(source: Path) -> list[Path]:
    """The extension modules built from `source` (any suffix this interpreter imports)."""
    stem = source.with_suffix("")
    return [
        path
        for path in source.parent.glob(f"{stem.name}.*")
        if any(path.name == stem.name + suffix for suffix in _suffixes())
    ]


def built() -> list[Path]:
    shared = ROOT / (GROUP.replace(".", "/") + "__mypyc.py")
    return [ext for module in MODULES for ext in extensions(ROOT / module)] + extensions(shared)


def stale() -> list[str]:
    """Sources edited after their extension was built, as `source (extension)`."""
    out = []
    for module in MODULES:
        source = ROOT / module
        for ext in extensions(source):
            if ext.stat().st_mtime < source.stat().st_mtime:
                out.append(f"{module} ({ext.name})")
    return out


def clean() -> None:
    for path in built():
        path.unlink()


def build() -> None:
    """Compile MODULES in place (needs mypy, setuptools and a C compiler with Python's headers).

    setuptools runs on its own Distribution, not `setup()`: that would read the project's
    pyproject.toml, which is the package's metadata, not this build's."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    clean()
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="dermrcm-native-") as scratch:
        # mypyc type-checks what it compiles; `make lint` holds the project's own mypy run
        # (pyproject.toml), whose per-package sections would each be "unused" here
        config = Path(scratch) / "mypy.ini"
        config.write_text("[mypy]\npython_version = 3.11\nignore_missing_imports = True\n")
        extensions_ = mypycify(
            [f"--config-file={config}", *MODULES],
            opt_level="3",
            group_name=GROUP,
            target_dir=str(Path(scratch) / "c"),
        )
        dist = Distribution({"name": GROUP, "ext_modules": extensions_})
        command = dist.get_command_obj("build_ext")
        command.inplace = True
        command.build_temp = str(Path(scratch) / "temp")
        dist.run_command("build_ext")
    if missing():
        raise SystemExit(f"mypyc built no extension for: {', '.join(missing())}")


def missing() -> list[str]:
    return [module for module in MODULES if not extensions(ROOT / module)]


def ensure() -> int:
    if os.environ.get("DERMRCM_NATIVE", "1") == "0":
        print("DERMRCM_NATIVE=0: nothing compiled, the HL7 hot path runs as Python")
        return 0
    if not missing() and not stale():
        return 0
    try:
        build()
    except (Exception, SystemExit) as exc:  # no compiler, no headers: Python still runs it
        clean()
        print(
            f"mypyc could not compile the HL7 hot path ({type(exc).__name__}: {exc}); "
            "it runs as Python (slower: docs/benchmarks.md)",
            file=sys.stderr,
        )
        return 0
    print(f"compiled with mypyc: {', '.join(MODULES)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    action = args[0] if args else "check"
    if action == "ensure":
        return ensure()
    if action == "build":
        build()
        print(f"compiled {len(MODULES)} modules with mypyc: {', '.join(MODULES)}")
        return 0
    if action == "clean":
        clean()
        return 0
    if action == "check":
        old = stale()
        if old:
            print(
                "compiled modules older than their source (run `make native`, or "
                f"`python -m integration.native clean` to run them as Python): {', '.join(old)}",
                file=sys.stderr,
            )
            return 1
        return 0
    print("usage: python -m integration.native ensure|build|check|clean", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
