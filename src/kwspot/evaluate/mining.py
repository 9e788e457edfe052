"""Hard negatives: the one-second windows of negative audio where a model fires, written as
clips that ``train`` can take as negatives (``--negatives DIR``) to learn from its mistakes.

Mine only audio that will not be used to measure the retrained model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kwspot.evaluate.det import Timing, firing_rows, smooth
from kwspot.evaluate.posteriors import Posteriors, read_mono


def false_alarm_times(p: Posteriors, word_index: dict[str, int], thresholds: dict[str, float],
                      timing: Timing) -> list[tuple[float, str]]:
    """``(time_s, word)`` of every detection in ``p`` (each word alone, as in a sweep)."""
    scores = smooth(p.probs, timing.smooth)
    ends = p.window_ends(timing.hop)
    out = [(timing.time_s(int(ends[r])), w) for w, i in word_index.items()
           for r in firing_rows(scores[:, i], thresholds[w], timing.refractory)]
    return sorted(out)


def write_hard_negatives(negatives: Sequence[Posteriors], word_index: dict[str, int],
                         thresholds: dict[str, float], timing: Timing, out: Path | str,
                         excluded: Sequence[frozenset[str]] = ()) -> list[Path]:
    """Write a clip centred on each false alarm in ``negatives`` to ``out`` (named after the
    file, the time and the word; in file ``i`` the words of ``excluded[i]`` are not mined);
    returns the clips written."""
    import soundfile as sf

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    clip = timing.clip
    for i, p in enumerate(negatives):
        skip = excluded[i] if i < len(excluded) else frozenset()
        words = {w: j for w, j in word_index.items() if w not in skip}
        times = false_alarm_times(p, words, thresholds, timing)
        if not times:
            continue
        audio, _ = read_mono(p.source, timing.sample_rate)
        padded = np.concatenate([np.zeros(clip, np.float32), audio, np.zeros(clip, np.float32)])
        for t, word in times:
            start = clip + round(t * timing.sample_rate) - clip // 2
            x = padded[start:start + clip]
            name = out / f"{Path(p.source).stem}@{t:.2f}s-{word}.wav"
            pcm = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
            sf.write(str(name), pcm, timing.sample_rate, subtype="PCM_16")
            written.append(name)
    return written
