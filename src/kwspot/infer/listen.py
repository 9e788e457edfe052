"""Live detection on the microphone: ``sounddevice`` fills a queue, the
:class:`~kwspot.infer.detector.StreamingDetector` drains it.

The audio callback only copies samples into the queue (it runs on PortAudio's thread and must
not block); classification happens on the caller's thread. The input is opened at the model's
sample rate when the device allows it, else at the device's own rate and resampled.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from kwspot.errors import KwspotError
from kwspot.infer.backend import Classifier
from kwspot.infer.detector import Detection, DetectorConfig, StreamingDetector
from kwspot.infer.resample import StreamResampler


def import_sounddevice() -> ModuleType:
    """The ``sounddevice`` module, or a one-line KwspotError saying what is missing."""
    try:
        import sounddevice
    except ImportError:
        raise KwspotError("sounddevice is not installed: pip install 'kwspot[listen]'") from None
    except OSError as exc:  # the module is there but the PortAudio library is not
        raise KwspotError(f"sounddevice cannot load PortAudio ({exc})") from None
    return sounddevice


def input_device(sd: ModuleType, device: str | int | None) -> dict[str, Any]:
    """Information about the input device to use, or a KwspotError when there is none."""
    try:
        info = sd.query_devices(device, kind="input")
    except (sd.PortAudioError, ValueError) as exc:
        what = f"input device {device!r}" if device is not None else "an audio input device"
        raise KwspotError(f"no audio input: cannot open {what} ({exc})") from None
    if not info or int(info.get("max_input_channels", 0)) < 1:
        raise KwspotError("no audio input device found")
    return dict(info)


def listen(classifier: Classifier, config: DetectorConfig | None = None, *,
           device: str | int | None = None, seconds: float | None = None,
           on_detection: Callable[[Detection], None] | None = None,
           on_note: Callable[[str], None] | None = None,
           sd: ModuleType | None = None) -> list[Detection]:
    """Run the detector on the microphone until ``seconds`` have been heard (forever when
    None; stop with Ctrl+C). Returns the detections. ``on_note`` hears about input
    overflows and resampling."""
    sd = sd or import_sounddevice()
    info = input_device(sd, device)
    det = StreamingDetector(classifier, config)
    rate = det.sample_rate
    try:
        sd.check_input_settings(device=device, channels=1, dtype="float32", samplerate=rate)
    except Exception:  # the device cannot record at the model's rate: resample
        rate = int(info.get("default_samplerate") or rate)
    resampler = None
    if rate != det.sample_rate:
        resampler = StreamResampler(rate, det.sample_rate)
        if on_note:
            on_note(f"recording at {rate} Hz, resampled to the model's {det.sample_rate} Hz")
    chunks: queue.Queue[np.ndarray] = queue.Queue()
    status_notes: list[str] = []

    def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status:
            status_notes.append(str(status))
        chunks.put(indata[:, 0].copy())

    found: list[Detection] = []
    heard = 0
    limit = None if seconds is None else int(seconds * rate)
    try:
        stream = sd.InputStream(device=device, channels=1, dtype="float32", samplerate=rate,
                                blocksize=det.hop * rate // det.sample_rate,
                                callback=callback)
    except Exception as exc:
        raise KwspotError(f"cannot open the audio input ({exc})") from None
    with stream:
        while limit is None or heard < limit:
            try:
                x = chunks.get(timeout=2.0)
            except queue.Empty:
                if not stream.active:
                    raise KwspotError("the audio input stopped") from None
                continue
            if limit is not None:
                x = x[:limit - heard]
            heard += len(x)
            while status_notes and on_note:
                on_note(f"audio input: {status_notes.pop(0)}")
            for d in det.feed(resampler.feed(x) if resampler else x):
                found.append(d)
                if on_detection:
                    on_detection(d)
    return found
