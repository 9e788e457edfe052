"""The benchmark scripts run (tiny ``--quick`` sizes) and print their tables; ``run_all`` keeps
the sections it did not rerun; the fast front-end path gives the reference numbers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kwspot.features import Frontend, FrontendConfig

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
}
NEEDS_REAL_DATA = {"pipeline", "accuracy", "embedding"}


def _run(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
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
    streaming = run_all.section("streaming", "backend  hits\npytorch  3", 1.0, ("1", "1"), info,
                                "cmd")
    assert "```text\nbackend  hits" in streaming  # plain-text output goes in a code block


@pytest.mark.parametrize("kw", [{}, {"win_length": 480},
                                {"n_fft": 1024, "win_length": 640, "hop_length": 320,
                                 "f_max": 4000.0, "n_mfcc": 10},
                                {"n_mels": 64, "n_mfcc": 64}])
def test_fast_log_mel_matches_stft_reference_on_every_path(kw: dict) -> None:
    """The chunked single-thread path and the one-pass path give torch.stft's numbers."""
    fe = Frontend(FrontendConfig(kind="mfcc", **kw))
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((23, 16000)).astype(np.float32)
                         * 0.1)
    spec = torch.stft(x, fe.cfg.n_fft, fe.cfg.hop_length, window=fe.window, center=True,
                      pad_mode="constant", return_complex=True)
    ref = torch.log((spec.abs() ** 2).transpose(1, 2) @ fe.mel_fb + fe.cfg.log_floor)
    threads = torch.get_num_threads()
    try:
        outs = []
        for t in (1, 2):  # one thread: chunks of a few clips; more: one pass
            torch.set_num_threads(t)
            with torch.no_grad():
                outs.append(fe.log_mel(x))
    finally:
        torch.set_num_threads(threads)
    for out in outs:
        assert out.shape == ref.shape
        assert (out - ref).abs().max() < 1e-4
    assert torch.equal(outs[0][:5], fe._log_mel_chunk(x[:5]))
    assert "mel_fb_ri" not in fe.state_dict()  # checkpoints keep their keys


def test_fast_log_mel_passes_gradients() -> None:
    fe = Frontend(FrontendConfig(kind="mel"))
    x = (torch.randn(3, 16000) * 0.1).requires_grad_()
    fe(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
