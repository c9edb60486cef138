"""The library's shape: stage packages in DAG order over a core (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "pandas_clusters"
#: The packages in DAG order; a module may import its own package, ``core`` and earlier ones.
ORDER = ("core", "acquire", "detect", "learn", "catalogue", "inspection", "completeness", "report")


def _imported_packages(path: Path) -> set[str]:
    """Top-level ``pandas_clusters`` subpackages a module imports (anywhere in it)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "pandas_clusters" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", ORDER)
def test_no_stage_imports_a_later_one(package):
    if not (SRC / package).is_dir():
        pytest.skip(f"no package {package}")
    allowed = set(ORDER[: ORDER.index(package) + 1])
    for path in sorted((SRC / package).rglob("*.py")):
        later = (_imported_packages(path) & set(ORDER)) - allowed
        assert not later, f"{path.relative_to(SRC)} imports the later package(s) {sorted(later)}"


def test_every_package_is_a_stage_or_the_core():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ORDER), f"{sorted(packages - set(ORDER))}: add them to ORDER"
