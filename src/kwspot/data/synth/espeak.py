"""A ctypes binding to the eSpeak NG library that ``espeakng-loader`` ships.

eSpeak NG keeps synthesis state in C globals (waveform phase, resonator memory, echo
buffer) that neither ``espeak_Terminate`` nor a voice change resets, so the samples of a
word depend on what was spoken before it. :func:`fresh_engine` therefore loads a private
copy of the library, speaks, and unloads it again (``dlclose``); every utterance then starts
from the same state, which makes output a pure function of its inputs whatever process or
order it runs in. A load costs well under a millisecond.
"""

from __future__ import annotations

import _ctypes
import ctypes
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwspot.errors import KwspotError

SAMPLE_RATE = 22_050  # what espeak_Initialize reports for every voice
RATE_MIN, RATE_MAX = 80, 450  # words per minute (espeakRATE_MINIMUM / _MAXIMUM)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True)
class EspeakPaths:
    """Where the shared library and its ``espeak-ng-data`` folder are."""

    library: Path
    data: Path


def locate_espeak() -> EspeakPaths:
    """The library and data folder of the installed ``espeakng-loader`` package."""
    try:
        import espeakng_loader
    except ImportError:
        raise KwspotError(
            "espeakng-loader is not installed (pip install espeakng-loader): "
            "kwspot synth needs its eSpeak NG library"
        ) from None
    library = Path(espeakng_loader.get_library_path())
    try:
        data = Path(espeakng_loader.get_data_path())
    except RuntimeError as exc:
        raise KwspotError(f"eSpeak NG data folder is missing: {exc}") from None
    if not library.is_file():
        raise KwspotError(f"{library}: eSpeak NG library file is missing")
    return EspeakPaths(library, data)


def library_version(library: Path) -> str:
    """The eSpeak NG version string (``espeak_Info`` needs no initialization)."""
    try:
        lib = ctypes.CDLL(str(library))
    except OSError as exc:
        raise KwspotError(f"{library}: cannot load the eSpeak NG library ({exc})") from None
    info = getattr(lib, "espeak_Info", None)
    if info is None:
        raise KwspotError(f"{library}: not an eSpeak NG library (no espeak_Info)")
    info.argtypes = [ctypes.c_void_p]
    info.restype = ctypes.c_char_p
    return info(None).decode()


def private_library_copy(library: Path, folder: Path) -> Path:
    """Copy the library into ``folder`` so that our ``dlclose`` really unloads it.

    A copy has its own inode, so the dynamic loader maps it separately from any
    libespeak-ng that other code in the process has open, and its globals are ours alone.
    """
    target = folder / f"libespeak-ng-kwspot{library.suffix}"
    shutil.copyfile(library, target)
    return target


class Espeak:
    """One loaded and initialized libespeak-ng; not thread-safe (the library is not)."""

    def __init__(self, library: Path, data: Path) -> None:
        try:
            lib = ctypes.CDLL(str(library))
        except OSError as exc:
            raise KwspotError(f"{library}: cannot load the eSpeak NG library ({exc})") from None
        self._lib = lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Terminate.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int,
        ]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self._set_rand_seed = getattr(lib, "espeak_ng_SetRandSeed", None)
        if self._set_rand_seed is not None:
            self._set_rand_seed.argtypes = [ctypes.c_long]
        self._libc_srand = _libc_srand()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), 0)
        if rate != SAMPLE_RATE:
            self._unload()
            raise KwspotError(f"{data}: eSpeak NG failed to initialize (returned {rate})")
        self._chunks: list[np.ndarray] = []
        # The library keeps only a C pointer: hold the Python callback object alive.
        self._callback = _SynthCallback(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)
        self._open = True

    def _on_audio(self, wav: ctypes._Pointer, count: int, events: int | None) -> int:
        if wav and count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    @property
    def version(self) -> str:
        return self._lib.espeak_Info(None).decode()

    def set_voice(self, name: str) -> None:
        """Select a voice such as ``en-us+m3`` (an unknown variant silently falls back)."""
        if self._lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise KwspotError(f"eSpeak NG voice {name!r} not found")

    def synth(self, text: str, *, rate: int, pitch: int, pitch_range: int, seed: int,
              volume: int = 100) -> np.ndarray:
        """Speak ``text`` with the current voice; int16 samples at :data:`SAMPLE_RATE`."""
        lib = self._lib
        lib.espeak_SetParameter(_PARAM_RATE, int(np.clip(rate, RATE_MIN, RATE_MAX)), 0)
        lib.espeak_SetParameter(_PARAM_PITCH, int(np.clip(pitch, 0, 100)), 0)
        lib.espeak_SetParameter(_PARAM_RANGE, int(np.clip(pitch_range, 0, 100)), 0)
        lib.espeak_SetParameter(_PARAM_VOLUME, int(np.clip(volume, 0, 200)), 0)
        # Breath and klatt noise draw from espeak's own generator (and libc rand in places).
        if self._set_rand_seed is not None:
            self._set_rand_seed(seed)
        if self._libc_srand is not None:
            self._libc_srand(seed & 0xFFFFFFFF)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise KwspotError(f"eSpeak NG could not speak {text!r} (error {status})")
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks)

    def phonemes(self, text: str) -> list[list[str]]:
        """The IPA phonemes eSpeak NG would speak for ``text`` with the current voice.

        One list per word (words of a clause as eSpeak groups them), stress marks kept on
        the vowel they precede: ``"hey computer"`` → ``[["h", "ˈeɪ"], ["k", "ə", ...]]``.
        """
        buffer = ctypes.create_string_buffer(text.encode("utf-8") + b"\0")
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        words: list[list[str]] = []
        while pointer.value:
            clause = self._lib.espeak_TextToPhonemes(
                ctypes.byref(pointer), _CHARS_UTF8, _PHONEMES_IPA | (ord("_") << 8))
            if clause is None:
                break
            words.extend(w.split("_") for w in clause.decode("utf-8").split() if w)
        return words

    def close(self) -> None:
        """Terminate the engine and unload the library."""
        if self._open:
            self._open = False
            self._lib.espeak_Terminate()
            self._unload()

    def _unload(self) -> None:
        unload = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
        if unload is not None:
            unload(self._lib._handle)


def _libc_srand() -> ctypes._CFuncPtr | None:
    try:
        srand = ctypes.CDLL(None).srand
    except (OSError, AttributeError, TypeError):
        return None
    srand.argtypes = [ctypes.c_uint]
    srand.restype = None
    return srand


@contextmanager
def fresh_engine(library: Path, data: Path) -> Iterator[Espeak]:
    """An engine in its initial state, unloaded on exit (see the module docstring)."""
    engine = Espeak(library, data)
    try:
        yield engine
    finally:
        engine.close()
