"""`kwspot demo --quick` runs end to end: synthesize, train, evaluate (CI's short demo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kwspot.cli import main


def test_demo_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = tmp_path / "no-real-data"  # keep CI fast: the real-speech part is covered elsewhere
    code = main(["demo", "--quick", "--model", "vggnet1", "--out", str(tmp_path / "demo"),
                 "--synth-dir", str(tmp_path / "synth"), "--real", str(real)])
    assert code == 0
    out = capsys.readouterr().out
    assert "held-out synthetic voices" in out and "accuracy" in out
    assert (tmp_path / "demo" / "best.pt").is_file()
    assert (tmp_path / "demo" / "confusion_synthetic_heldout.png").stat().st_size > 1000
    assert (tmp_path / "synth" / "meta.csv").is_file()


def test_demo_defaults_to_an_embedding_head_when_its_models_are_installed() -> None:
    import importlib.util

    from kwspot.demo import default_model

    expected = "emb_conv" if importlib.util.find_spec("pyopen_wakeword") else "vggnet1"
    assert default_model() == expected
