"""The benchmark scripts run (tiny ``--quick`` sizes) and print their tables; ``run_all`` keeps
the sections it did not rerun."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"

# What each script's --quick output must contain: its table header (real data present) or the
# reason it skipped (absent).
EXPECTED = {
    "frontend": ["| front-end ", "Agreement with librosa", "torchaudio: not installed"],
    "pipeline": ["| pipeline ", "First-time cache build"],
    "train_speed": ["| model ", "step clips/s"],
    "inference": ["| model ", "PyTorch ms @1", "| PyTorch .pt"],
    "accuracy": ["| model ", "held-out acc %", "CPU ms @ batch 1"],
    "embedding": ["| training data ", "held-out acc %", "Which model to pick"],
    # crossval: every clip of the 12 x 12 copy scored once
    "crossval": ["| recipe ", " pooled |", "95% interval", "/144)"],
}
NEEDS_REAL_DATA = {"pipeline", "accuracy", "embedding", "crossval"}


def _run(args: list[str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _data_present() -> bool:
    root = Path(os.environ.get("KWSPOT_TEST_DATA", REPO.parent / "shared" / "data"))
    return (root / "sc_v2_test_part").is_dir()


def test_run_all_quick_runs_every_script_and_prints_tables() -> None:
    # streaming.py belongs to the streaming benchmark's own tests; run_all runs it in full runs.
    # embedding.py trains heads even in --quick mode: its own test below.
    names = [n for n in EXPECTED if n != "embedding"]
    r = _run([str(BENCH / "run_all.py"), "--quick", "--only", ",".join(names)])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    for name in names:
        assert f"===== benchmarks/{name}.py --quick =====" in out
        part = out.split(f"===== benchmarks/{name}.py --quick =====")[1].split("=====")[0]
        if name in NEEDS_REAL_DATA and not _data_present():
            assert "not found" in part and "skipped" in part, part
            continue
        for text in EXPECTED[name]:
            assert text in part, f"{name}: {text!r} missing from\n{part}"
    summary = out.split("## Summary")[1]
    for name in names:
        assert f"| {name} " in summary
    assert "failed" not in r.stderr


def test_embedding_quick_trains_heads_and_prints_its_tables() -> None:
    r = _run([str(BENCH / "embedding.py"), "--quick"], timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    if not _data_present():
        assert "skipped" in r.stdout
        return
    if "pyopen-wakeword" in r.stdout and "skipped" in r.stdout:
        pytest.skip("pyopen-wakeword is not installed")
    for text in EXPECTED["embedding"]:
        assert text in r.stdout, f"{text!r} missing from\n{r.stdout[-3000:]}"


def test_run_all_rejects_bad_requests() -> None:
    r = _run([str(BENCH / "run_all.py"), "--quick", "--write"])
    assert r.returncode == 2 and "--write needs a full run" in r.stderr
    r = _run([str(BENCH / "run_all.py"), "--only", "frontend,nope"])
    assert r.returncode == 2 and "unknown benchmark(s) nope" in r.stderr


def test_write_replaces_only_the_sections_that_ran(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import run_all

    info = {"date": "2026-11-25", "commit": "abc", "uncommitted": [], "cores": 2, "cpu": "x",
            "torch_threads": 2, "gpu": "none", "os": "Linux", "python": "3.11",
            "torch": "2.13", "numpy": "2", "onnxruntime": "1", "librosa": "0.11",
            "torchaudio": "not installed"}
    out = tmp_path / "B.md"
    first = {n: run_all.section(n, f"## {n}\n\n| a |\n|---|\n| {n}-1 |", 60.0, ("1.0", "2.0"),
                                info, "python benchmarks/run_all.py --write")
             for n in ("frontend", "accuracy")}
    run_all.write(out, first, info)
    run_all.write(out, {"frontend": first["frontend"].replace("frontend-1", "frontend-2")}, info)
    text = out.read_text()
    assert "frontend-2" in text and "frontend-1" not in text
    assert "accuracy-1" in text  # kept from the first write
    assert text.index("BEGIN frontend") < text.index("BEGIN accuracy")
    assert "commit `abc`" in text and "load average 1.0 before, 2.0 after" in text
    monkeypatch.setitem(run_all.SCRIPTS, "streaming", ("Streaming detection", False))
    streaming = run_all.section("streaming", "backend  hits\npytorch  3", 1.0, ("1", "1"), info,
                                "cmd")
    assert "```text\nbackend  hits" in streaming  # plain-text output goes in a code block


def test_streaming_quick_reports_false_alarms_per_hour(tmp_path: Path) -> None:
    r = _run([str(BENCH / "streaming.py"), "--quick", "--out", str(tmp_path)], timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    if "skipped: needs" in out:
        assert not _data_present() or "speech_" in out
        return
    for text in ["| recipe ", "R@1/h %", "calibrated (1/h): recall %", "| word ",
                 "Goal (≥ 90% recall at ≤ 1 false alarm per hour", "| backend ",
                 "real-time factor", "+ negative speech"]:
        assert text in out, f"{text!r} missing from\n{out}"
    assert (tmp_path / "quick" / "streaming_det.png").stat().st_size > 1000


def test_wakeword_quick_prints_kwspot_and_pocketsphinx_rows(tmp_path: Path) -> None:
    """A tiny `kwspot wakeword` run and the PocketSphinx baseline on a few real recordings."""
    r = _run([str(BENCH / "wakeword.py"), "--quick", "--words", "computer", "--out",
              str(tmp_path)], timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    if not _data_present():
        assert "not found" in r.stdout and "skipped" in r.stdout
        return
    assert "| detector " in r.stdout and "recall % at <= 1 FA/h" in r.stdout
    assert re.search(r"\| kwspot wakeword \(synthetic speech only\) +\| computer ", r.stdout)
    assert re.search(r"\| +the same, without phonetic confirmation \| computer ", r.stdout)
    pocketsphinx = re.search(r"\| PocketSphinx keyphrase \(no training\) +\| computer ", r.stdout)
    assert pocketsphinx or "PocketSphinx skipped" in r.stdout
    assert "kwspot wakeword computer --out" in r.stdout  # the exact command
