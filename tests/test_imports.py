"""Public names across packages: no module imports another package's private module.

A name is private when a part of its dotted path starts with ``_`` (not a dunder):
``cxrpilot.imaging._radiograph`` is private to ``cxrpilot.imaging``, and so is a private name
such as ``cxrpilot.reports._labeler._OTHER``. Modules of the owning package (and of its
subpackages) may import it; every other module uses what the package's ``__init__`` exports.

What is walked: every module under ``src/cxrpilot`` and the scripts under ``benchmarks/``
and ``scripts/`` (subfolders such as ``scripts/device/`` too). The scripts are checked too:
a benchmark measures what a user of the library runs, so it goes through the same public
names; one that needs an internal (an attribute a measurement needs that nothing else does)
gets it exported, or is listed below.

Every ``import`` and ``from ... import`` statement counts, those inside functions too
(relative imports resolved); imports built from strings (``importlib``) are not seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

#: Imports of private modules from outside their package that are known and not yet fixed:
#: importer -> the private names it imports. This list only shrinks: a fixed entry makes the
#: test fail until it is removed here, and a new private import fails at once.
KNOWN: dict[str, set[str]] = {}


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted((SRC / "cxrpilot").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    for folder in ("benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            found.append((".".join(path.relative_to(ROOT).with_suffix("").parts), path))
    return found


def imported_names(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every cxrpilot module or name that ``path`` imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in names if name.split(".")[0] == "cxrpilot"]


def private_imports(module: str, path: Path) -> list[tuple[int, str]]:
    """The imports of ``module`` that reach into another package's private part."""
    bad = []
    for line, name in imported_names(module, path):
        parts = name.split(".")
        first = next((i for i, part in enumerate(parts) if _is_private(part)), None)
        if first is None:
            continue
        owner = ".".join(parts[:first])
        if module != owner and not module.startswith(owner + "."):
            bad.append((line, name))
    return bad


def test_the_walk_sees_imports_of_every_form(tmp_path):
    pkg = tmp_path / "cxrpilot" / "cli"
    pkg.mkdir(parents=True)
    src = pkg / "_x.py"
    src.write_text(
        "import cxrpilot.imaging._radiograph\n"
        "from cxrpilot.workstation import _db\n"
        "from ..reports._labeler import _OTHER\n"
        "from . import _inputs\n"  # the CLI's own private module: allowed
        "from cxrpilot.imaging import Radiograph\n"  # public: allowed
        "def f():\n    from cxrpilot.models.expert._card import read_card\n"
    )
    assert [name for _, name in private_imports("cxrpilot.cli._x", src)] == [
        "cxrpilot.imaging._radiograph",
        "cxrpilot.workstation._db",
        "cxrpilot.reports._labeler._OTHER",
        "cxrpilot.models.expert._card.read_card",
    ]


@pytest.mark.parametrize(("module", "path"), _modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_private_imports_across_packages(module, path):
    found = private_imports(module, path)
    new = [f"{path.relative_to(ROOT)}:{line}: imports {name}" for line, name in found
           if name not in KNOWN.get(module, set())]
    assert not new, ("import the package's public name instead (export it from the package's "
                     "__init__ if it has none):\n" + "\n".join(new))
    fixed = KNOWN.get(module, set()) - {name for _, name in found}
    assert not fixed, f"no longer imported by {module}; remove from KNOWN: {sorted(fixed)}"


def test_known_list_names_real_modules():
    modules = {m for m, _ in _modules()}
    stale = {m for m in KNOWN if m.startswith("cxrpilot.")} - modules
    assert not stale, f"no such module; remove from KNOWN: {sorted(stale)}"
