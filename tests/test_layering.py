"""Architecture in one direction: inference never imports evaluation."""

from __future__ import annotations

import ast
from pathlib import Path

import kwspot

PACKAGE = Path(kwspot.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports (at any depth, lazily or not)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_infer_never_imports_evaluate() -> None:
    files = sorted((PACKAGE / "infer").glob("*.py"))
    assert files
    offenders = {f.name: sorted(m for m in imported_modules(f) if m.startswith("kwspot.evaluate"))
                 for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}
