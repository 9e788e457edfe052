"""Streaming detection over an audio file, read in blocks (any length, rate, channels)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from kwspot.data.audio import require_finite, resample_rate
from kwspot.errors import KwspotError
from kwspot.infer.backend import Classifier
from kwspot.infer.detector import Detection, DetectorConfig, StreamingDetector
from kwspot.infer.resample import StreamResampler


@dataclass
class FileRun:
    """What :func:`detect_file` found and how fast."""

    detections: list[Detection]
    audio_s: float  # duration of the file
    elapsed_s: float  # wall-clock processing time
    windows: int  # windows classified
    resampled_from: int | None  # the file's sample rate when it was not the model's

    @property
    def rtf(self) -> float:
        """Real-time factor: processing time / audio duration (< 1 is faster than real time)."""
        return self.elapsed_s / self.audio_s if self.audio_s else float("nan")


def detect_file(classifier: Classifier, path: str, config: DetectorConfig | None = None, *,
                block_s: float = 4.0,
                on_detection: Callable[[Detection], None] | None = None,
                on_progress: Callable[[float, float], None] | None = None,
                on_note: Callable[[str], None] | None = None) -> FileRun:
    """Stream an audio file through a :class:`StreamingDetector`, reading it in blocks.

    Multi-channel audio is averaged to mono; another sample rate is resampled (``on_note``
    is told). ``on_detection`` is called as each detection is made, ``on_progress`` with
    (seconds read, total seconds).
    """
    import time

    import soundfile as sf

    det = StreamingDetector(classifier, config)
    t0 = time.perf_counter()
    try:
        f = sf.SoundFile(os.fsencode(path))  # bytes: the name need not be UTF-8
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        msg = str(exc).strip().splitlines()
        raise KwspotError(f"{path}: cannot read audio ({msg[-1] if msg else 'unknown format'})"
                          ) from None
    found: list[Detection] = []

    def emit(ds: list[Detection]) -> None:
        for d in ds:
            found.append(d)
            if on_detection:
                on_detection(d)

    with f:
        if f.frames == 0:
            raise KwspotError(f"{path}: the file holds no audio samples")
        rate = f.samplerate
        resampler = None
        if rate != det.sample_rate:
            resampler = StreamResampler(resample_rate(rate, path), det.sample_rate)
            if on_note:
                on_note(f"{path}: {rate} Hz audio resampled to the model's {det.sample_rate} Hz")
        total_s = f.frames / rate
        block = max(1, round(block_s * rate))
        read = 0
        for chunk in f.blocks(blocksize=block, dtype="float32", always_2d=True):
            require_finite(chunk, path, start=read)
            read += len(chunk)
            mono = chunk[:, 0] if chunk.shape[1] == 1 else chunk.mean(axis=1)
            emit(det.feed(resampler.feed(mono) if resampler else mono))
            if on_progress:
                on_progress(read / rate, total_s)
        if read == 0:
            raise KwspotError(f"{path}: the file holds no audio samples")
        if resampler:
            emit(det.feed(resampler.flush()))
        audio_s = det.position_s
        emit(det.flush())
    return FileRun(found, audio_s, time.perf_counter() - t0, det.windows,
                   rate if resampler else None)
