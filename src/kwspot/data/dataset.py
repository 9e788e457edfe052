"""One function for all splits: find clips, split, label, add silence/unknown, decode once.

>>> data = load_dataset(DataConfig(root="../shared/data/sc_v2_test_part"))
>>> data.splits["training"].waves.shape   # int16 [N, 16000]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from kwspot.data.audio import CLIP_SAMPLES, read_audio
from kwspot.data.cache import load_waves
from kwspot.data.labels import DEFAULT_WORDS, SILENCE, UNKNOWN, LabelSet
from kwspot.data.layouts import SILENCE_DIR, UNKNOWN_DIR, Layout, discover
from kwspot.data.negatives import negative_windows
from kwspot.data.splits import SPLIT_RULES, SPLITS, assign_splits
from kwspot.errors import KwspotError, SettingError
from kwspot.settings import setting

# Which part of every noise file each split crops its silence clips from.
_NOISE_PARTS = {"training": (0.0, 0.8), "validation": (0.8, 0.9), "testing": (0.9, 1.0)}


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and how to split and label it."""

    root: str  # dataset folder (any layout of kwspot.data.layouts)
    words: tuple[str, ...] = setting(
        DEFAULT_WORDS, "command words; every other word is 'unknown'", group="data",
        metavar="W1,W2")
    noise_dir: str | None = setting(
        None, "background noise folder (default: ROOT/_background_noise_)", group="data")
    split: str = setting("auto", "split by the list files, the hash rule, or auto: the lists "
                         "when complete, else the rule", group="data", choices=SPLIT_RULES)
    val_pct: float = setting(10.0, "validation % of speakers, by the hash rule", group="data")
    test_pct: float = setting(10.0, "testing % of speakers, by the hash rule", group="data")
    split_salt: str = setting("", "draw another speaker split (same percentages)",
                              group="data")
    split_offset: float = setting(
        0.0, "rotate the hash rule's percentages by this much: with a 20% testing share, "
        "offsets 0, 20, 40, 60 and 80 test every speaker once (cross-validation)", group="data")
    silence_share: float = setting(
        0.1, "silence clips per split as a share of command clips", group="data")
    unknown_share: float = setting(
        0.1, "unknown clips per split as a share of command clips", group="data")
    zero_silence: float = setting(
        0.1, "share of the silence clips that are pure zeros", group="data")
    negatives: tuple[str, ...] = setting(
        (), "folders of running speech/noise holding none of the words: every second "
        "becomes a training 'unknown' clip (any rate; resampled)", group="data",
        metavar="DIR1,DIR2")
    resample: bool = setting(
        False, "convert clips that are not 16 kHz mono instead of refusing them", group="data")
    cache_dir: str | None = setting(
        None, "decoded-audio cache (default: $KWSPOT_CACHE or ~/.cache/kwspot)", group="data")
    seed: int = 0  # draws of unknown clips and silence crops


def recorded_data_settings(config: dict[str, Any] | None,
                           labels: Sequence[str] | None = None) -> dict[str, Any]:
    """The :class:`DataConfig` settings a model recorded: those in a run's saved settings
    (a checkpoint's ``config``, or an exported model's metadata; its dataset folder is
    ``data`` there), with the command words of ``labels`` when given."""
    config = config or {}
    known = {f.name for f in fields(DataConfig)}
    out = {k: v for k, v in config.items() if k in known}
    if config.get("data"):
        out["root"] = config["data"]
    if "words" in out:
        out["words"] = tuple(out["words"])
    if labels is not None:
        out["words"] = tuple(w for w in labels if w not in (SILENCE, UNKNOWN))
    return out


@dataclass
class SplitData:
    """The clips of one split, decoded."""

    name: str
    waves: np.ndarray  # int16 [N, 16000]
    labels: np.ndarray  # int64 [N]
    speakers: list[str]
    sources: list[str]  # relative path, or "silence:<noise file>@<sample>" / "silence:zeros"

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self, num_classes: int) -> np.ndarray:
        return np.bincount(self.labels, minlength=num_classes)


@dataclass
class KwsData:
    """Labels, the three splits and the background noise of one dataset."""

    config: DataConfig
    labels: LabelSet
    layout: Layout
    splits: dict[str, SplitData]
    noise: list[np.ndarray] = field(default_factory=list)  # int16 noise recordings
    # What training on this data would still need (only when loaded with for_training=False):
    # the errors training would raise.
    training_needs: list[KwspotError] = field(default_factory=list)

    def whole(self) -> SplitData:
        """Every split's clips as one, in split order (a test set scored whole)."""
        parts = list(self.splits.values())
        return SplitData("all", np.concatenate([d.waves for d in parts]),
                         np.concatenate([d.labels for d in parts]),
                         [s for d in parts for s in d.speakers],
                         [s for d in parts for s in d.sources])

    def noise_bank(self) -> np.ndarray:
        """All noise as one int16 array, for augmentation (the training silence clips if the
        dataset has no noise files)."""
        if self.noise:
            return np.concatenate(self.noise)
        tr = self.splits["training"]
        sil = tr.labels == self.labels.silence_index
        return np.ascontiguousarray(tr.waves[sil]).reshape(-1)


def _check_words_and_shares(cfg: DataConfig, labels: LabelSet, layout: Layout) -> set[str]:
    """The folders present; refuses shares out of range and words without clips."""
    for share, name in ((cfg.silence_share, "silence_share"), (cfg.unknown_share, "unknown_share")):
        if not 0 <= share <= 10:
            raise SettingError(name, f"must be between 0 and 10, got {share}")
    present = set(layout.folders)
    missing = [w for w in labels.words if w not in present]
    empty = [w for w in missing if (layout.root / w).is_dir()]
    if empty:
        raise KwspotError(f"{layout.root / empty[0]}: no clips of {empty[0]!r} (empty class)")
    if missing:
        raise KwspotError(f"{layout.root}: no folder for word(s) {', '.join(missing)}")
    return present


def load_dataset(cfg: DataConfig, *, verbose: bool = True, for_training: bool = True) -> KwsData:
    """Build the three splits of ``cfg.root`` (see :class:`DataConfig`).

    With ``for_training=False`` (evaluating, inspecting) what only training needs — a clip of
    every class in the training split, noise to cut silence clips from — is not required: it is
    listed in ``training_needs`` instead (without noise files no silence clips are made).
    """
    needs: list[KwspotError] = []

    def require(ok: bool, problem: str) -> None:
        if not ok:
            if for_training:
                raise KwspotError(problem)
            needs.append(KwspotError(problem))

    labels = LabelSet(tuple(cfg.words))
    layout = discover(cfg.root, cfg.noise_dir)
    if layout.kind == "unlabeled":
        raise KwspotError(f"{layout.root}: holds audio files but no word folders; "
                          "training needs ROOT/<word>/*.wav")
    present = _check_words_and_shares(cfg, labels, layout)
    prelabeled_silence = SILENCE_DIR in present
    noise = [read_audio(p, resample=cfg.resample) for p in layout.noise_files]
    require(cfg.silence_share == 0 or prelabeled_silence or bool(noise),
            f"{layout.root}: no background noise files (looked in "
            f"{layout.root / '_background_noise_'}); give `noise_dir` or set `silence_share` to 0")

    by_split = assign_splits(layout, cfg.split, cfg.val_pct, cfg.test_pct, cfg.split_salt,
                             cfg.split_offset)
    rng = np.random.default_rng(cfg.seed)
    sample_unknown = layout.kind != "prelabeled" or UNKNOWN_DIR not in present
    chosen = {split: _choose(by_split[split], labels, cfg.unknown_share if sample_unknown
                             else None, rng) for split in SPLITS}

    require(bool(chosen["training"]), f"{layout.root}: the training split is empty")
    if chosen["training"]:
        for w in labels.words:
            require(any(c.folder == w for c in chosen["training"]),
                    f"{layout.root / w}: no clips of {w!r} in the training split")

    all_clips = [c for s in SPLITS for c in chosen[s]]
    waves = load_waves(layout.root, all_clips, cache_dir=cfg.cache_dir, resample=cfg.resample,
                       verbose=verbose)
    splits: dict[str, SplitData] = {}
    start = 0
    for split in SPLITS:
        clips = chosen[split]
        w = np.asarray(waves[start:start + len(clips)])
        start += len(clips)
        lab = np.array([labels.index_of_folder(c.folder) for c in clips], dtype=np.int64)
        spk = [c.speaker for c in clips]
        src = [c.rel for c in clips]
        if not prelabeled_silence and cfg.silence_share > 0 and noise:
            n_cmd = int(sum(labels.is_command(c.folder) for c in clips))
            sw, ssrc = _silence_clips(noise, layout.noise_files, round(cfg.silence_share * n_cmd),
                                      split, cfg.zero_silence, rng)
            w = np.concatenate([w, sw]) if len(sw) else w
            lab = np.concatenate([lab, np.full(len(sw), labels.silence_index, np.int64)])
            spk += [f"silence-{split}"] * len(sw)
            src += ssrc
        splits[split] = SplitData(split, w, lab, spk, src)
    splits["training"] = _with_negatives(splits["training"], cfg, labels.unknown_index,
                                         for_training)
    return KwsData(cfg, labels, layout, splits, noise, needs)


def _with_negatives(tr: SplitData, cfg: DataConfig, unknown: int, for_training: bool
                    ) -> SplitData:
    """The training split plus the windows of the negative audio, labelled unknown (when
    training with negatives)."""
    if not (cfg.negatives and for_training):
        return tr
    neg = negative_windows(cfg.negatives, cfg.seed)
    return SplitData(tr.name, np.concatenate([tr.waves, neg.waves]),
                     np.concatenate([tr.labels, np.full(len(neg.waves), unknown, np.int64)]),
                     tr.speakers + ["negatives"] * len(neg.waves), tr.sources + neg.sources)


def _choose(clips: list, labels: LabelSet, unknown_share: float | None,
            rng: np.random.Generator) -> list:
    """One split's command, unknown and silence clips; with ``unknown_share`` (raw layouts)
    unknown words are sampled reproducibly to that share of the command clips."""
    command = [c for c in clips if labels.is_command(c.folder)]
    unknown = [c for c in clips if not labels.is_command(c.folder) and c.folder != SILENCE_DIR]
    silence = [c for c in clips if c.folder == SILENCE_DIR]
    if unknown_share is not None:
        n_unk = min(len(unknown), round(unknown_share * len(command)))
        pick = rng.choice(len(unknown), size=n_unk, replace=False) if n_unk else []
        unknown = [unknown[i] for i in sorted(pick)]
    return command + unknown + silence


def _silence_clips(noise: list[np.ndarray], files: list[Path], n: int, split: str,
                   zero_share: float, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """``n`` one-second crops of this split's part of the noise files at random volumes."""
    out = np.zeros((n, CLIP_SAMPLES), dtype=np.int16)
    sources = []
    lo, hi = _NOISE_PARTS[split]
    for i in range(n):
        if rng.random() < zero_share:
            sources.append("silence:zeros")
            continue
        k = int(rng.integers(len(noise)))
        a, b = int(lo * len(noise[k])), int(hi * len(noise[k]))
        if b - a < CLIP_SAMPLES:  # a short file: use all of it
            a, b = 0, len(noise[k])
        start = int(rng.integers(a, max(a + 1, b - CLIP_SAMPLES + 1)))
        crop = noise[k][start:start + CLIP_SAMPLES].astype(np.float32) * rng.uniform(0.0, 1.0)
        out[i, :len(crop)] = np.round(crop).astype(np.int16)
        sources.append(f"silence:{files[k].name}@{start}")
    return out, sources
