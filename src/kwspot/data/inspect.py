"""A text report of a dataset: layout, per-split and per-class counts, speakers, duration."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kwspot.data.audio import CLIP_SAMPLES, SAMPLE_RATE, read_audio
from kwspot.data.dataset import DataConfig, load_dataset
from kwspot.data.layouts import discover
from kwspot.errors import KwspotError


def inspect_dataset(cfg: DataConfig, *, word: Callable[[KwspotError], str] = str) -> str:
    """Report for ``cfg.root``; an unlabeled folder is reported as a file count. What training
    would still need (noise for silence clips, a non-empty training split) ends the report,
    each need as ``word`` puts the error training would raise."""
    layout = discover(cfg.root, cfg.noise_dir)
    if layout.kind == "unlabeled":
        lines = [f"{layout.root}: {len(layout.clips):,} unlabeled audio file(s) (for predict)"]
    else:
        lines = [f"{layout.root}: {layout.kind} layout, {len(layout.clips):,} clips in "
                 f"{len(layout.folders)} folder(s)"]
    if layout.noise_files:
        secs = sum(len(read_audio(p, resample=True)) for p in layout.noise_files) / SAMPLE_RATE
        lines.append(f"background noise: {len(layout.noise_files)} file(s), {secs:.0f} s")
    if layout.unlabeled_test is not None:
        lines.append(f"unlabeled test folder: {layout.unlabeled_test}")
    if layout.kind == "unlabeled":
        return "\n".join(lines)
    data = load_dataset(cfg, for_training=False)
    names = data.labels.names
    width = max(8, *(len(n) for n in names))
    lines.append("")
    lines.append(f"{'class':<{width}} " + " ".join(f"{s:>10}" for s in data.splits))
    counts = {s: d.counts(len(names)) for s, d in data.splits.items()}
    for i, name in enumerate(names):
        lines.append(f"{name:<{width}} " + " ".join(f"{counts[s][i]:>10,}" for s in counts))
    lines.append(f"{'total':<{width}} " + " ".join(f"{len(d):>10,}" for d in data.splits.values()))

    def speakers(d) -> int:
        return len({s for s, lab in zip(d.speakers, d.labels, strict=True)
                    if lab != data.labels.silence_index})

    lines.append(f"{'speakers':<{width}} " + " ".join(f"{speakers(d):>10,}"
                                                      for d in data.splits.values()))
    lines.append(f"{'minutes':<{width}} " + " ".join(
        f"{len(d) * CLIP_SAMPLES / SAMPLE_RATE / 60:>10.1f}" for d in data.splits.values()))
    shared = _shared_speakers(data)
    lines.append(f"speakers in more than one split: {shared}")
    if data.training_needs:
        lines.append("")
        lines.append("training on this folder would need:")
        lines += [f"  {word(need)}" for need in data.training_needs]
    return "\n".join(lines)


def _shared_speakers(data) -> int:
    sil = data.labels.silence_index
    sets = [{s for s, lab in zip(d.speakers, d.labels, strict=True) if lab != sil}
            for d in data.splits.values()]
    seen: dict[str, int] = {}
    for st in sets:
        for s in st:
            seen[s] = seen.get(s, 0) + 1
    return int(np.sum([v > 1 for v in seen.values()]))
