"""The command line's promise for every subcommand: bad input is one line on stderr and exit
code 2, never a traceback — typical bad inputs, files that cannot be written (a file in the
way, a full disk), non-finite audio, and a fuzz of the option parser."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwspot.cli import COMMAND_MODULES, build_parser, main


def kwspot(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr); argparse exits are codes."""
    threads = torch.get_num_threads()  # --threads sets it process-wide: put it back
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], err


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small checkpoint and its ONNX export, a WAV of NaN floats, a file, a missing path."""
    from kwspot.checkpoint import Checkpoint
    from kwspot.data.labels import LabelSet
    from kwspot.infer.export import export_checkpoint
    from kwspot.network import build_net, frontend_for

    d = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    labels = LabelSet().names
    fe = frontend_for("bcresnet1")
    net = build_net("bcresnet1", len(labels), fe).eval()
    pt = d / "model.pt"
    Checkpoint(model="bcresnet1", labels=list(labels), frontend=fe.to_dict(),
               weights=net.state_dict()).save(pt)
    nan = d / "nan.wav"
    x = np.zeros(24000, dtype=np.float32)
    x[20000:] = np.nan
    sf.write(str(nan), x, 16000, subtype="FLOAT")
    quiet = d / "quiet.wav"
    sf.write(str(quiet), np.zeros(32000, dtype=np.float32), 16000)
    a_file = d / "a_file"
    a_file.write_text("not a folder")
    return {"pt": pt, "onnx": export_checkpoint(pt, d / "model.onnx").path, "nan": nan,
            "quiet": quiet, "file": a_file, "missing": d / "missing"}


# One typical bad input per subcommand (and the parser itself): (argv, words in the message).
BAD_INPUTS = {
    "demo": (["demo", "--iters", "-5"], ["--iters"]),
    "data": (["data", "inspect", "{missing}"], ["no such folder"]),
    "models": (["models", "nosuchnet*"], ["no model name matches"]),
    "train": (["train", "--data", "{missing}"], ["no such folder"]),
    "evaluate": (["evaluate", "--checkpoint", "{missing}.pt"], ["no such model file"]),
    "predict": (["predict", "{nan}", "--checkpoint", "{missing}.onnx"], ["no such model file"]),
    "report": (["report", "{missing}"], ["no such file"]),
    "synth": (["synth", "--out", "{file}/set"], ["{file}"]),
    "ensemble": (["ensemble", "--checkpoint", "{pt}", "--checkpoint", "{pt}", "--out",
                  "{missing}.pt"], ["model.pt", "no ensemble form"]),
    "export": (["export", "--checkpoint", "{pt}", "--out", "{file}/m.onnx"],
               ["is a file, not a folder"]),
    "detect": (["detect", "{nan}", "--model", "{onnx}"], ["nan.wav", "non-finite", "20,000"]),
    "confirm": (["detect", "{quiet}", "--model", "{onnx}", "--confirm"],
                ["model.onnx", "phonetic confirmation needs a model on the speech embedding"]),
    "listen": (["listen", "--model", "{missing}.onnx"], []),
    "score": (["score", "--model", "{missing}.onnx", "--negatives", "{nan}"],
              ["no such model file"]),
    "wakeword": (["wakeword", "computer", "--out", "{missing}/run", "--negatives", "{missing}"],
                 ["no such file or folder"]),
    "parser": (["train", "--iters", "many"], ["invalid int value", "kwspot train --help"]),
}


def test_every_subcommand_has_a_bad_input_case() -> None:
    assert set(COMMAND_MODULES) <= set(BAD_INPUTS)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(case: str, files: dict[str, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    argv, needles = BAD_INPUTS[case]
    fill = {k: str(v) for k, v in files.items()}
    code, _, err = kwspot(capsys, *(a.format(**fill) for a in argv))
    assert_one_line_error(code, err, *(n.format(**fill) for n in needles))


# --- files that cannot be written ----------------------------------------------------------

def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_export_on_a_full_disk(files: dict[str, Path], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import onnx

    monkeypatch.setattr(onnx, "save", _disk_full)
    out = tmp_path / "m.onnx"
    code, _, err = kwspot(capsys, "export", "--checkpoint", files["pt"], "--out", out)
    assert_one_line_error(code, err, f"{out}: cannot write (the disk is full)")
    assert list(tmp_path.iterdir()) == []  # no model, no temporary folder


def test_detect_csv_on_a_full_disk(files: dict[str, Path], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import csv

    class FullWriter:
        def __init__(self, f: object) -> None:
            pass

        writerow = staticmethod(_disk_full)

    monkeypatch.setattr(csv, "writer", FullWriter)
    wav = tmp_path / "quiet.wav"
    sf.write(str(wav), np.zeros(16000, dtype=np.int16), 16000)
    out = tmp_path / "d.csv"
    code, _, err = kwspot(capsys, "detect", wav, "--model", files["onnx"], "--csv", out)
    # The detection ran (its notes come first); the failure is one line, the last.
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"kwspot: error: {out}: cannot write (the disk is full)"
    assert err.count("error:") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quiet.wav"]


def test_detect_csv_under_a_file_is_refused_before_detecting(files: dict[str, Path],
                                                             capsys) -> None:
    code, out, err = kwspot(capsys, "detect", files["nan"], "--model", files["onnx"],
                            "--csv", files["file"] / "d.csv")
    assert_one_line_error(code, err, "is a file, not a folder")  # not the NaN error: no run


def test_predict_and_evaluate_refuse_nan_audio(files: dict[str, Path], tmp_path: Path,
                                               capsys) -> None:
    from conftest import make_tone_dataset

    from kwspot.data.labels import DEFAULT_WORDS

    code, out, err = kwspot(capsys, "predict", files["nan"], "--checkpoint", files["onnx"],
                            "--out", tmp_path / "s.csv")
    assert code == 1 and "non-finite" in err and "nan.wav" in err  # reported and skipped
    assert (tmp_path / "s.csv").read_text().splitlines() == ["fname,label"]
    data = make_tone_dataset(tmp_path / "set", words=DEFAULT_WORDS, extra_words=(), speakers=2,
                             per_speaker=1)
    bad = data / "yes" / "0badc0de_nohash_0.wav"
    bad.write_bytes(files["nan"].read_bytes())
    code, _, err = kwspot(capsys, "evaluate", "--checkpoint", files["onnx"], "--data", data,
                          "--split", "all")
    assert_one_line_error(code, err, f"{bad}: audio holds non-finite samples")
    # kwspot score names and skips a broken negative file, and scores the others
    code, out, err = kwspot(capsys, "score", "--model", files["onnx"], "--negatives",
                            files["nan"], data / "no", "--out", tmp_path / "score")
    assert code == 0 and "Traceback" not in err
    assert f"skipped {files['nan']}: audio holds non-finite samples" in err


# --- fuzz of the option parser -------------------------------------------------------------

VALUES = ["-1", "0", "1", "3", "0.5", "-2.5", "nan", "inf", "1e9", "", ",", "yes", "yes,yes",
          "yes,silence", "unknown", "yes=2", "a=b,c", "cpu", "cuda", "tpu", "auto", "all",
          "testing", "hash", "int8", "float", "int16", "*", "{missing}", "{missing}.pt",
          "{missing}.onnx", "{missing}/x.wav", "caf\udce9"]


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """``"data inspect"``-style command paths to their parsers (leaves only)."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                inner = _subparsers(sub)
                out.update({f"{name} {k}": v for k, v in inner.items()} if inner
                           else {name: sub})
    return out


PARSERS = _subparsers(build_parser())
# Commands that make things from nothing (minutes of synthesis or training, or a table of
# every model): their parsing is fuzzed, their work is replaced by a stub.
STUBBED = {"demo", "synth", "models", "wakeword"}


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib

    for name in STUBBED:
        monkeypatch.setattr(importlib.import_module(f"kwspot.cli.{name}"), "run", lambda a: 0)
    monkeypatch.chdir(tmp_path)  # anything a command writes lands here


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_the_option_parser(stubbed: None, files: dict[str, Path], data: st.DataObject,
                                capsys: pytest.CaptureFixture[str]) -> None:
    command = data.draw(st.sampled_from(sorted(PARSERS)))
    tokens = st.one_of(st.sampled_from(_options(PARSERS[command])), st.sampled_from(VALUES))
    rest = data.draw(st.lists(tokens, max_size=6))
    fill = {k: str(v) for k, v in files.items()}
    argv = [*command.split(), *(t.format(**fill) if "{" in t else t for t in rest)]
    code, _, err = kwspot(capsys, *argv)
    assert code in (0, 2), (argv, err)
    assert "Traceback" not in err, argv
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)
