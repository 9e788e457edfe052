"""The split rule reproduces the official list files; splits never share a speaker."""

from __future__ import annotations

from pathlib import Path

import pytest

from kwspot.data.layouts import discover, speaker_of
from kwspot.data.splits import assign_splits, read_list, speaker_split, which_set
from kwspot.errors import KwspotError


def _check_list(path: Path, expected: str) -> int:
    entries = read_list(path)
    assert entries, f"{path} is empty"
    wrong = [e for e in entries if which_set(e) != expected]
    assert not wrong, f"{len(wrong)} entries of {path.name} disagree, e.g. {wrong[:3]}"
    return len(entries)


def test_rule_reproduces_official_v002_lists(shared_data: Path) -> None:
    assert _check_list(shared_data / "lists_v0.02" / "validation_list.txt", "validation") == 9981
    assert _check_list(shared_data / "lists_v0.02" / "testing_list.txt", "testing") == 11005


def test_rule_reproduces_official_v001_lists(shared_data: Path) -> None:
    root = shared_data / "sc_v1_sample"
    _check_list(root / "validation_list.txt", "validation")
    _check_list(root / "testing_list.txt", "testing")
    listed = {*read_list(root / "validation_list.txt"), *read_list(root / "testing_list.txt")}
    # files of the sample that are in neither list are training files by the rule too
    layout = discover(root)
    for clip in layout.clips:
        if clip.rel not in listed:
            assert which_set(clip.rel) == "training", clip.rel


def test_speaker_parsing() -> None:
    assert speaker_of("0a7c2a8d_nohash_0.wav") == "0a7c2a8d"
    assert speaker_of("bed_0a7c2a8d_nohash_3.wav.wav") == "0a7c2a8d"
    assert speaker_of("1024.wav") == "1024"


def test_speaker_split_is_deterministic_and_follows_percentages() -> None:
    speakers = [f"{i:08x}" for i in range(4000)]
    splits = [speaker_split(s, 10, 20) for s in speakers]
    assert splits == [speaker_split(s, 10, 20) for s in speakers]
    frac_val = splits.count("validation") / len(splits)
    frac_test = splits.count("testing") / len(splits)
    assert 0.08 < frac_val < 0.12 and 0.17 < frac_test < 0.23
    salted = [speaker_split(s, 10, 20, salt="x") for s in speakers]
    assert salted != splits


def test_prelabeled_split_is_speaker_disjoint(shared_data: Path) -> None:
    layout = discover(shared_data / "sc_v2_test_part")
    assert layout.kind == "prelabeled"
    parts = assign_splits(layout, "auto", 10, 20)
    speakers = {k: {c.speaker for c in v if c.folder != "_silence_"} for k, v in parts.items()}
    assert all(len(v) > 0 for v in parts.values())
    assert not speakers["training"] & speakers["validation"]
    assert not speakers["training"] & speakers["testing"]
    assert not speakers["validation"] & speakers["testing"]


def test_lists_mode_refuses_missing_files(shared_data: Path) -> None:
    layout = discover(shared_data / "sc_v1_sample")
    with pytest.raises(KwspotError, match="do not exist"):
        assign_splits(layout, "lists")
    # auto falls back to the rule (which the official lists agree with)
    parts = assign_splits(layout, "auto")
    for split, clips in parts.items():
        assert all(which_set(c.rel) == split for c in clips)


def test_lists_mode_uses_list_files(tone_data: Path) -> None:
    layout = discover(tone_data)
    first, second = layout.clips[0].rel, layout.clips[1].rel
    (tone_data / "validation_list.txt").write_text(first + "\n")
    (tone_data / "testing_list.txt").write_text(second + "\n")
    parts = assign_splits(discover(tone_data), "lists")
    assert [c.rel for c in parts["validation"]] == [first]
    assert [c.rel for c in parts["testing"]] == [second]
    assert len(parts["training"]) == len(layout.clips) - 2


def test_shares_of_100_percent_leave_no_name_in_training() -> None:
    from kwspot.data.splits import _bucket

    assert _bucket(100.0, 0.0, 100.0) == "testing"  # the rule's largest percentage
    assert _bucket(100.0, 100.0, 0.0) == "validation"
    assert _bucket(100.0, 10.0, 10.0) == "training"
    assert _bucket(99.99, 0.0, 100.0) == "testing"


def test_offsets_a_testing_share_apart_test_every_speaker_once() -> None:
    speakers = [f"{i:08x}" for i in range(2000)]
    folds = [[s for s in speakers if speaker_split(s, 10, 20, offset=o) == "testing"]
             for o in (0, 20, 40, 60, 80)]
    assert sorted(s for fold in folds for s in fold) == sorted(speakers)
    assert folds[0] == [s for s in speakers if speaker_split(s, 10, 20) == "testing"]
    for o in (20, 40):  # validation and testing stay disjoint within a fold
        val = {s for s in speakers if speaker_split(s, 10, 20, offset=o) == "validation"}
        assert val and not val & set(folds[o // 20])


def test_offset_is_refused_with_list_files_and_outside_range(tone_data: Path) -> None:
    layout = discover(tone_data)
    (tone_data / "testing_list.txt").write_text(layout.clips[0].rel + "\n")
    with pytest.raises(KwspotError, match="split_offset"):
        assign_splits(discover(tone_data), "lists", offset=20)
    with pytest.raises(KwspotError, match="split_offset"):
        assign_splits(layout, "hash", offset=100)
    # auto with an offset rotates the rule instead of reading the lists
    parts = assign_splits(discover(tone_data), "auto", 10, 20, offset=40)
    assert {c.rel for c in parts["testing"]} == {
        c.rel for c in layout.clips if speaker_split(c.speaker, 10, 20, offset=40) == "testing"}
