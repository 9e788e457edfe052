"""PocketSphinx keyphrase spotting: the no-training baseline of the wake-word benchmark.

PocketSphinx (``pip install pocketsphinx``) ships an en-us acoustic model and the CMU
dictionary; its keyphrase search fires when the phrase's score beats a phone loop by
``kws_threshold``. A detection resets the search, as a live detector would. The threshold
cannot be swept over stored scores (a detection is reported as soon as the threshold is met),
so each threshold is a separate pass over the audio; files are spread over worker processes.

A word missing from the dictionary would never fire: :func:`keyphrase` spells it as the
dictionary words it is made of (``snowboy`` → ``snow boy``), the same sounds, as kwspot's
phonetic confirmation (:mod:`kwspot.infer.confirm`) does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

CHUNK = 1600  # samples fed per call: 100 ms at 16 kHz
THRESHOLDS = (1e-40, 1e-30, 1e-25, 1e-20, 1e-15, 1e-10, 1e-5)


def available() -> str | None:
    """None when pocketsphinx and its en-us model import, else why not."""
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        return "pocketsphinx is not installed (pip install pocketsphinx)"
    return None


_DECODERS: dict = {}  # one decoder per (phrase, threshold) in each worker process


def keyphrase(phrase: str) -> str:
    """``phrase`` as PocketSphinx's dictionary spells it (``snowboy`` → ``snow boy``), as
    kwspot's phonetic confirmation spells it; a word no dictionary words make up is kept (it
    never fires)."""
    from kwspot.errors import KwspotError
    from kwspot.infer.confirm import keyphrase as spelled

    try:
        return spelled(phrase)
    except KwspotError:
        return phrase.lower()


def _decoder(phrase: str, threshold: float):
    if (phrase, threshold) in _DECODERS:
        return _DECODERS[phrase, threshold]
    from pocketsphinx import Decoder, get_model_path

    model = Path(get_model_path()) / "en-us"
    dec = Decoder(hmm=str(model / "en-us"), dict=str(model / "cmudict-en-us.dict"),
                  keyphrase=phrase.lower(), kws_threshold=threshold, loglevel="FATAL")
    _DECODERS[phrase, threshold] = dec
    return dec


def _read_16k(path: str) -> np.ndarray | None:
    """int16 mono 16 kHz samples of ``path``, or None when it cannot be decoded."""
    import soundfile as sf
    from scipy.signal import resample_poly

    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception:  # noqa: BLE001 - a broken file is skipped and counted by the caller
        return None
    audio = audio.mean(axis=1)
    if rate != 16000:
        g = np.gcd(int(rate), 16000)
        audio = resample_poly(audio, 16000 // g, int(rate) // g).astype(np.float32)
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16)


def _count_file(args: tuple[str, str, float]) -> tuple[int, float]:
    """(detections, seconds) of one file; (-1, 0) when it cannot be read."""
    path, phrase, threshold = args
    audio = _read_16k(path)
    if audio is None:
        return -1, 0.0
    dec = _decoder(phrase, threshold)
    found = 0
    dec.start_utt()
    for i in range(0, len(audio), CHUNK):
        dec.process_raw(audio[i:i + CHUNK].tobytes(), False, False)
        if dec.hyp() is not None:
            found += 1
            dec.end_utt()
            dec.start_utt()
    dec.end_utt()
    return found, len(audio) / 16000


def sweep(phrase: str, positives: Sequence[str], negatives: Sequence[str],
          thresholds: Sequence[float] = THRESHOLDS, workers: int = 2) -> list[dict]:
    """Recall on ``positives`` (a clip is a hit when the phrase fires in it at least once) and
    false alarms per hour of ``negatives``, one row per threshold."""
    rows = []
    phrase = keyphrase(phrase)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for thr in thresholds:
            pos = list(pool.map(_count_file, [(p, phrase, thr) for p in positives], chunksize=8))
            neg = list(pool.map(_count_file, [(n, phrase, thr) for n in negatives], chunksize=8))
            pos_ok = [c for c, _ in pos if c >= 0]
            hours = sum(s for c, s in neg if c >= 0) / 3600
            alarms = sum(c for c, _ in neg if c >= 0)
            recall = sum(c > 0 for c in pos_ok) / max(len(pos_ok), 1)
            rows.append({"threshold": thr, "recall": recall,
                         "false_alarms": alarms, "hours": hours,
                         "fa_per_hour": alarms / hours if hours else float("nan"),
                         "skipped": sum(c < 0 for c, _ in pos + neg)})
    return rows


def recall_at(rows: Sequence[dict], max_fa_per_hour: float) -> float:
    """Best recall among thresholds whose false-alarm rate is at most ``max_fa_per_hour``."""
    ok = [r["recall"] for r in rows if r["fa_per_hour"] <= max_fa_per_hour]
    return max(ok) if ok else 0.0


if __name__ == "__main__":  # a quick look: python benchmarks/_pocketsphinx.py PHRASE POS NEG
    import sys

    phrase, pos_dir, neg_dir = sys.argv[1:4]
    pos = sorted(str(p) for p in Path(pos_dir).rglob("*.flac"))
    neg = sorted(str(p) for p in Path(neg_dir).rglob("*.flac"))
    for row in sweep(phrase, pos, neg, workers=os.cpu_count() or 1):
        print(row)
