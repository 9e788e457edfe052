"""Each setting is defined once: the training settings mirror the data settings, own the
augmentation ones, survive renames, and the command line reads its help defaults from them."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from kwspot import config as config_module
from kwspot.cli import build_parser, main
from kwspot.cli.common import DATA_FIELDS, worded
from kwspot.config import TRAIN_NAME, TrainConfig
from kwspot.data.augment import AugmentConfig
from kwspot.data.dataset import DataConfig, recorded_data_settings
from kwspot.errors import KwspotError, SettingError


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
