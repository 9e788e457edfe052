"""Each setting is defined once: the training settings mirror the data settings, own the
augmentation ones, survive renames, and the command line reads its help defaults from them."""

from __future__ import annotations

import argparse
import ast
from dataclasses import fields
from pathlib import Path

import pytest
import torch

import kwspot
from kwspot import config as config_module
from kwspot.cli import build_parser, main
from kwspot.cli.common import DATA_FIELDS, command_parser, settings_from, worded
from kwspot.config import TRAIN_NAME, TrainConfig
from kwspot.data.augment import AugmentConfig
from kwspot.data.dataset import DataConfig, recorded_data_settings
from kwspot.data.synth_settings import DEFAULT_PERTURBATIONS, SynthSettings
from kwspot.errors import KwspotError, SettingError
from kwspot.evaluate.settings import EvaluateSettings, ScoreSettings
from kwspot.infer.detector import DetectorConfig
from kwspot.infer.export_settings import ExportSettings
from kwspot.infer.predict_settings import PredictSettings
from kwspot.settings import described
from kwspot.wakeword.config import WakewordConfig


def test_every_data_setting_is_a_training_setting_and_a_flag() -> None:
    train = {f.name for f in fields(TrainConfig)}
    for f in fields(DataConfig):
        assert TRAIN_NAME.get(f.name, f.name) in train, f.name
    cfg = TrainConfig(data="/d", zero_silence=0.5, val_pct=20.0, seed=3)
    data = cfg.data_config()
    assert (data.root, data.zero_silence, data.val_pct, data.seed) == ("/d", 0.5, 20.0, 3)
    flags = {a.dest for a in build_parser()._subparsers._group_actions[0].choices["train"]
             ._actions}
    assert set(DATA_FIELDS) <= flags and "zero_silence" in DATA_FIELDS


def test_augmentation_settings_belong_to_augment_config() -> None:
    cfg = TrainConfig(spec_time_masks=2, spec_freq_width=5, shift_ms=50.0)
    aug = cfg.augment_config()
    assert isinstance(cfg, AugmentConfig)  # defined once, in kwspot.data.augment
    assert (aug.spec_time_masks, aug.spec_freq_width, aug.shift_ms) == (2, 5, 50.0)


def test_saved_settings_survive_renames_and_removals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(config_module.RENAMED, "learning_rate", "lr")
    cfg = TrainConfig.from_saved({"learning_rate": 0.2, "gone_setting": 1, "words": ["a", "b"]})
    assert cfg.lr == 0.2 and cfg.words == ("a", "b")


def test_recorded_data_settings() -> None:
    got = recorded_data_settings({"data": "/d", "val_pct": 5.0, "lr": 0.1, "words": ["x"]},
                                 ["yes", "no", "silence", "unknown"])
    assert got == {"root": "/d", "val_pct": 5.0, "words": ("yes", "no")}
    assert recorded_data_settings(None) == {}


def test_help_shows_the_defaults_of_the_definitions(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"peak learning rate (default: {TrainConfig.lr:g})" in text
    assert f"random time shift ±ms, zero-filled (default: {AugmentConfig.shift_ms:g})" in text
    assert f"pure zeros (default: {DataConfig.zero_silence:g})" in text
    assert "--no-amp no bfloat16 autocast on GPU --sync-bn" in text  # no default for a switch
    assert "(any rate; resampled) --resample" in text  # none for an empty list


def test_errors_name_settings_and_the_command_line_names_flags() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", "--checkpoint", dest="model")
    p.add_argument("--noise-dir")
    p.add_argument("--no-amp", dest="amp", action="store_false")
    err = KwspotError("out/noise_dir: no noise (give `noise_dir`, or `silence_share` 0)")
    assert str(err) == "out/noise_dir: no noise (give noise_dir, or silence_share 0)"
    assert worded(err, p) == "out/noise_dir: no noise (give --noise-dir, or silence_share 0)"
    bad = SettingError("model", "needs `amp` off")
    assert str(bad) == "model: needs amp off" and (bad.setting, bad.problem) == (
        "model", "needs `amp` off")
    assert worded(bad, p) == "--model: needs --no-amp off"


def _setting_sites(name: str) -> dict[str, list[str]]:
    """Where the package defines the setting ``name`` (a dataclass field), names it in a
    string, and reads it (``x.name``), by module."""
    root = Path(kwspot.__file__).resolve().parent
    sites: dict[str, list[str]] = {"defined": [], "named": [], "read": []}
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                sites["defined"] += [f"{module}.{node.name}" for item in node.body
                                     if isinstance(item, ast.AnnAssign)
                                     and getattr(item.target, "id", None) == name]
            elif isinstance(node, ast.Constant) and node.value == name:
                sites["named"].append(module)
            elif isinstance(node, ast.Attribute) and node.attr == name:
                sites["read"].append(module)
    return sites


def test_the_walk_of_one_setting_from_the_command_line_to_the_training_step() -> None:
    """``--spec-freq-width``: defined once (AugmentConfig), its flag and help derived from
    that definition, parsed into the TrainConfig of a run, and read where the step masks."""
    from kwspot.cli.train import given_settings, new_run_config
    from kwspot.train.step import TrainStep

    sites = _setting_sites("spec_freq_width")
    assert sites["defined"] == ["kwspot.data.augment_settings.AugmentConfig"]
    assert sites["read"] == ["kwspot.data.augment"]  # spec_augment_as, which the step calls
    assert all(m.startswith("kwspot.models.") for m in sites["named"])  # models' recipes

    parser = build_parser()
    train = command_parser(parser, parser.parse_args(["train"]))
    (flag,) = [a for a in train._actions if a.dest == "spec_freq_width"]
    assert flag.option_strings == ["--spec-freq-width"] and flag.type is int
    assert flag.default is None  # not given: the definition's or the model's value applies
    assert f"(default: {AugmentConfig.spec_freq_width})" in flag.help

    args = parser.parse_args(["train", "--data", "d", "--model", "seresnet3",
                              "--spec-freq-width", "3", "--spec-freq-masks", "1",
                              "--spec-time-masks", "0"])
    cfg = new_run_config(given_settings(args))
    assert cfg.spec_freq_width == 3 and cfg.out == "runs/seresnet3"
    step = TrainStep.for_model(cfg, num_classes=4)
    step.start(0)
    feats, _ = step.prepare(torch.ones(64, 1, 40, 101), torch.zeros(64, dtype=torch.long),
                            kind="features")
    masked_bands = (feats == 0).all(dim=3).sum(dim=(1, 2))  # per clip: one mask of 0..3 bands
    assert masked_bands.max().item() == 3 and masked_bands.min().item() >= 0


@pytest.mark.parametrize(("command", "owner"), [
    ("train", TrainConfig), ("evaluate", DataConfig), ("evaluate", EvaluateSettings),
    ("predict", PredictSettings), ("export", ExportSettings), ("detect", DetectorConfig),
    ("listen", DetectorConfig), ("score", DetectorConfig), ("score", ScoreSettings),
    ("synth", SynthSettings), ("wakeword", WakewordConfig)])
def test_every_described_setting_is_a_flag(command: str, owner: type) -> None:
    """Each described setting of the settings a command takes is one of its flags, which
    tells "not given" (None) from any value (evaluate's ``--split`` also picks the subset)."""
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    flags = {a.dest: a for a in sub._actions if a.option_strings}
    for f in fields(owner):
        if described(f):
            assert f.name in flags, f.name
            assert flags[f.name].default is None, f.name


def test_settings_from_the_command_line() -> None:
    """Flags given replace the definitions' defaults, the rest keep them: a list of numbers,
    an empty list, a flag named otherwise than its setting, paths as separate arguments."""
    parser = build_parser()

    def parsed(cls: type, *argv: str, **values: object) -> object:
        return settings_from(parser.parse_args(list(argv)), cls, **values)

    synth = parsed(SynthSettings, "synth", "--out", "x", "--snr-db", "0,10",
                   "--unknown-words", "", "--clean", "--reverb", "0.5")
    assert (synth.snr_db, synth.unknown_words, synth.per_word) == ((0.0, 10.0), (), 200)
    rooms = synth.perturbations()
    assert (rooms.reverb, rooms.device, rooms.snr_db) == (0.5, 0.0, (0.0, 10.0))
    assert parsed(SynthSettings, "synth", "--out", "x").perturbations() == DEFAULT_PERTURBATIONS
    export = parsed(ExportSettings, "export", "--checkpoint", "c", "--out", "o",
                    "--input", "int16")
    assert export == ExportSettings(input_dtype="int16")
    wake = parsed(WakewordConfig, "wakeword", "hey there", "--out", "o", "--test", "a", "b",
                  "--iters", "5", phrases=("hey there",), out="o")
    assert (wake.test, wake.iters, wake.lr) == (("a", "b"), 5, WakewordConfig.lr)
    assert parsed(EvaluateSettings, "evaluate", "--checkpoint", "m") == EvaluateSettings()
