"""The package's shape: no import cycles, one module writes checkpoints, the benchmarks time
the library's own training step, and no function is too complex to follow."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
BENCHMARKS = SRC.parent / "benchmarks"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """kwspot module → the kwspot modules it imports (anywhere in it, lazily or not; a
    ``from kwspot.a import b`` counts as importing ``kwspot.a.b`` when that is a module)."""
    files = {_module_name(p): p for p in (SRC / "kwspot").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block)
                       for n in ast.walk(block)}  # not imported at run time
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                deps.add(base)
                deps.update(f"{base}.{a.name}" for a in node.names)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between modules (a package importing its own submodules, as
    ``__init__`` files re-exporting names do, is not one)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if d.startswith(m + "."):
                continue  # a package's own submodule
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert "kwspot.train.step" in graph["kwspot.train.loop"]  # the graph sees real imports
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"p": {"p.x"}, "p.x": {"q"}, "q": set()}) is None


def test_exactly_one_module_writes_checkpoints() -> None:
    def holding(text: str) -> list[str]:
        return sorted(_module_name(p) for p in (SRC / "kwspot").rglob("*.py")
                      if text in p.read_text(encoding="utf-8"))

    assert holding("torch.save(") == ["kwspot.tensorfile"]  # the one writer of tensor files
    assert holding('"kwspot-checkpoint"') == ["kwspot.checkpoint"]  # the one format


def test_one_module_draws_progress() -> None:
    drawing = sorted(_module_name(p) for p in (SRC / "kwspot").rglob("*.py")
                     if "rich.progress" in p.read_text(encoding="utf-8"))
    assert drawing == ["kwspot.progress"]


def test_benchmarks_time_the_library_training_step() -> None:
    text = (BENCHMARKS / "_kws.py").read_text(encoding="utf-8")
    assert "from kwspot.train.step import TrainStep" in text
    for name in ("_kws.py", "accuracy.py", "train_speed.py"):
        tree = ast.parse((BENCHMARKS / name).read_text(encoding="utf-8"))
        own = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert not own & {"train_on", "step", "lr_at", "build_optimizer"}, name
        assert ".backward(" not in (BENCHMARKS / name).read_text(encoding="utf-8"), name


def test_no_function_is_too_complex() -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    done = subprocess.run([ruff, "check", "--select", "C901", "--config",
                           "lint.mccabe.max-complexity=15", str(SRC)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


FLAG = re.compile(r"(?<![\w-])--[a-z]")
MESSAGE_CALLS = {"KwspotError", "SettingError", "warning", "info", "note"}
"""Calls whose text reaches the user: errors, logged notes, a run's report notes."""


def flags_in_library_messages(root: Path) -> list[str]:
    """``file:line: text`` for each string in a raised error or a user message of the library
    (``root`` without ``cli/``) that names a command-line flag."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = getattr(node, "func", None)
            called = getattr(func, "id", None) or getattr(func, "attr", None)
            if isinstance(node, ast.Raise) or called in MESSAGE_CALLS:
                found += [f"{path.relative_to(root)}:{c.lineno}: {c.value!r}"
                          for c in ast.walk(node) if isinstance(c, ast.Constant)
                          and isinstance(c.value, str) and FLAG.search(c.value)]
    return sorted(set(found))


def test_library_messages_name_settings_not_flags() -> None:
    assert flags_in_library_messages(SRC / "kwspot") == []


def test_the_flag_finder_sees_f_strings_raises_and_notes(tmp_path: Path) -> None:
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "x.py").write_text('raise KwspotError("--flag is fine here")\n')
    (tmp_path / "lib.py").write_text(
        'def f(x, log):\n'
        '    """Docstrings may say --flag."""\n'
        '    log.warning(f"set --cache-dir to {x}")\n'
        '    err = SettingError("hop_ms", "a setting, not a flag")\n'
        '    raise ValueError(f"{x}: pass --resample")\n')
    assert flags_in_library_messages(tmp_path) == [
        "lib.py:3: 'set --cache-dir to '", "lib.py:5: ': pass --resample'"]
