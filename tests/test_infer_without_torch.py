"""The ONNX path needs only onnxruntime, numpy and soundfile: commands run in a Python where
``import torch`` fails."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from kwspot.infer.export import export_net
from kwspot.network import build_net, frontend_for

WORDS = ("yes", "no", "up")
LABELS = (*WORDS, "silence", "unknown")

BLOCKER = """\
import sys

class _NoTorch:
    # Refuses torch and its submodules, as if it were not installed.
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"No module named {name!r} (blocked for the test)")
        return None

sys.meta_path.insert(0, _NoTorch())
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An exported model, a few clips, a long recording, and the torch-blocking env dir."""
    from conftest import make_tone_dataset

    d = tmp_path_factory.mktemp("notorch")
    torch.manual_seed(0)
    net = build_net("vggnet1", len(LABELS), frontend_for("vggnet1")).eval()
    onnx_path = export_net(net, LABELS, d / "model.onnx", model_name="vggnet1").path
    data = make_tone_dataset(d / "tones", words=WORDS, speakers=8, per_speaker=1)
    long = d / "long.wav"
    sf.write(str(long), (np.random.default_rng(0).normal(0, 0.05, 16000 * 4) * 32767)
             .astype(np.int16), 16000, subtype="PCM_16")
    block = d / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(BLOCKER)
    return {"onnx": onnx_path, "data": data, "long": long, "block": block, "dir": d}


def run_without_torch(setup: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(setup["block"]), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=setup["dir"], timeout=120)


def test_torch_is_really_blocked(setup: dict[str, Path]) -> None:
    r = run_without_torch(setup, "-c", "import torch")
    assert r.returncode != 0 and "blocked for the test" in r.stderr


def test_backend_predicts_without_torch(setup: dict[str, Path]) -> None:
    code = (
        "import sys, numpy as np\n"
        "from kwspot.infer.backend import load_classifier\n"
        f"clf = load_classifier({str(setup['onnx'])!r})\n"
        "p = clf.predict_proba(np.zeros((3, clf.clip_samples), np.float32))\n"
        "assert p.shape == (3, 5) and np.allclose(p.sum(1), 1, atol=1e-5), p\n"
        "assert 'torch' not in sys.modules\n"
        "print(','.join(clf.labels))\n"
    )
    r = run_without_torch(setup, "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ",".join(LABELS)


def test_predict_command_without_torch(setup: dict[str, Path]) -> None:
    out = setup["dir"] / "submission.csv"
    r = run_without_torch(setup, "-m", "kwspot", "predict", "--checkpoint", str(setup["onnx"]),
                          str(setup["data"] / "yes"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["fname", "label"]
    assert len(rows) == 1 + len(list((setup["data"] / "yes").glob("*.wav")))
    assert {row[1] for row in rows[1:]} <= set(LABELS)


def test_detect_command_without_torch(setup: dict[str, Path]) -> None:
    r = run_without_torch(setup, "-m", "kwspot", "detect", "--model", str(setup["onnx"]),
                          str(setup["long"]), "--threshold", "0.05", "--words", "yes,no,up")
    assert r.returncode == 0, r.stderr
    assert "real-time factor" in r.stderr
    for line in r.stdout.splitlines():
        t, word, conf = line.split()
        assert word in WORDS and 0 <= float(t) <= 4 and 0.05 <= float(conf) <= 1


def test_evaluate_command_without_torch(setup: dict[str, Path]) -> None:
    if importlib.util.find_spec("kwspot.cli.evaluate") is None:
        pytest.skip("kwspot.cli.evaluate does not exist yet")
    r = run_without_torch(setup, "-m", "kwspot", "evaluate", "--checkpoint", str(setup["onnx"]),
                          "--data", str(setup["data"]), "--words", ",".join(WORDS),
                          "--val-pct", "25", "--test-pct", "25",
                          "--plot", str(setup["dir"] / "confusion.png"))
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout
