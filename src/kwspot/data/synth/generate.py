"""``synthesize``: write a Speech-Commands-style data set spoken by eSpeak NG voices.

Layout under the output folder: ``<word>/<speaker>_nohash_<k>.wav`` (1 s, 16 kHz, mono,
int16), ``_background_noise_/*.wav``, ``meta.csv``, ``validation_list.txt``,
``testing_list.txt`` and, written last, ``.kwspot_synth.json`` with the parameters: a
second call with the same parameters returns at once. Every file is a pure function of
the parameters, so the same seed gives byte-identical files for any number of workers.
"""

from __future__ import annotations

import csv
import functools
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from kwspot.data.perturb import NoiseBank, Perturbations
from kwspot.data.synth import espeak, neural, voices
from kwspot.data.synth.clips import (
    CLIP_RATE,
    MAX_WORD_S,
    META_COLUMNS,
    ClipSpec,
    ClipStyle,
    phrase_label,
    plan_clips,
    render_speaker,
    to_clip_rate,
    trim_silence,
    write_wav,
)
from kwspot.data.synth.noise import NOISE_LEVELS_DB, Speak, make_noise
from kwspot.data.synth.speakers import SPLITS, Speaker, plan_speakers
from kwspot.data.synth_settings import DEFAULT_PERTURBATIONS, SynthSettings
from kwspot.errors import KwspotError, SettingError
from kwspot.progress import progress_bar

NOISE_DIR = "_background_noise_"
MARKER = ".kwspot_synth.json"
PARTIAL_MARKER = ".kwspot_synth.partial.json"
_FORMAT_VERSION = 2
_PHRASE = re.compile(r"[a-z]+(?:['-][a-z]+)*(?: [a-z]+(?:['-][a-z]+)*)*")
_MAX_WORD_LEN = 64
_PROBE_RATE = 110  # words/min: a slow speaker, for sizing clips to the longest phrase
_CLIP_STEP_S = 0.25  # clips longer than 1 s grow in steps of this
_CLIPS_PER_STARTUP = 300  # clips that pay for starting one more worker process


@dataclass(frozen=True)
class SynthReport:
    """What :func:`synthesize` wrote (or found already written)."""

    out_dir: Path
    clips: int
    clips_per_split: dict[str, int]
    words: tuple[str, ...]
    unknown_words: tuple[str, ...]
    speakers: int
    speakers_per_split: dict[str, int]
    base_voices: int  # distinct accent + stock variant combinations used
    accents: tuple[str, ...]
    noise_files: tuple[str, ...]
    elapsed_s: float
    clip_seconds: float = 1.0
    confusables: tuple[str, ...] = ()
    reused: bool = False
    params: dict = field(default_factory=dict, repr=False)


def synthesize(
    out_dir: str | Path,
    words: Sequence[str] = SynthSettings.words,
    unknown_words: Sequence[str] = SynthSettings.unknown_words,
    per_word: int = SynthSettings.per_word,
    seed: int = SynthSettings.seed,
    workers: int | None = SynthSettings.workers,
    speakers: int | None = SynthSettings.speakers,
    noise_seconds: float = SynthSettings.noise_seconds,
    progress: bool | None = None,
    force: bool = SynthSettings.force,
    perturb: Perturbations | None = None,
    tract_spread: float = SynthSettings.tract_spread,
    rate_spread: float = SynthSettings.rate_spread,
    clip_seconds: float | None = SynthSettings.clip_seconds,
    confusables: Sequence[str] = (),
    neural_voices: Sequence[str] = SynthSettings.neural_voices,
    neural_share: float = SynthSettings.neural_share,
) -> SynthReport:
    """Write ``per_word`` clips of every word (and of every unknown word) to ``out_dir``.

    A "word" may be a phrase of several words (``"hey computer"``; its folder and class is
    ``hey_computer``). Clips last ``clip_seconds``, by default 1 s or, when a phrase said
    slowly does not fit, the next multiple of 0.25 s that holds it. ``perturb`` says how
    often clips are reverberated, coloured by a device, sent through a telephone line or
    mixed with real noise; ``tract_spread`` is the spread of the speakers' vocal-tract
    lengths and ``rate_spread`` of a speaker's speaking rate from clip to clip (log scale).
    ``perturb`` None means :data:`DEFAULT_PERTURBATIONS`. ``confusables`` (e.g. from
    :func:`~kwspot.data.synth.confusable.confusable_phrases`) are spoken like unknown words
    and marked ``confusable`` in ``meta.csv``; any that are also keywords or unknown words
    are dropped. ``neural_share`` of the training speakers speak with a neural (Piper) voice from
    ``neural_voices`` (``.onnx`` files) or, when none are given, from the voices installed as
    packages (:func:`~kwspot.data.synth.neural.packaged_voices`); with neither, all speak
    with eSpeak NG.

    ``speakers`` defaults to ``max(10, per_word // 2)`` (each says each word about twice);
    ``workers`` defaults to the usable CPUs (fewer for small jobs); ``progress`` None shows
    a bar only when stderr is a terminal. An existing complete set with the same parameters
    is kept unless ``force``. Raises :class:`KwspotError` for bad words or numbers, an
    unusable folder or a missing eSpeak NG.

    More than one worker means ``spawn``-ed processes: a script that calls this must guard
    its top level with ``if __name__ == "__main__":``.
    """
    start = time.perf_counter()
    out = Path(out_dir).expanduser()
    words_t = _check_words(words, "words")
    unknown_t = _check_words(unknown_words, "unknown_words")
    if not words_t and not unknown_t:
        raise SettingError("words", "no words to synthesize")
    both = sorted(set(words_t) & set(unknown_t))
    if both:
        raise SettingError("unknown_words", f"{both[0]!r} is also in `words`")
    confusable_t = tuple(c for c in _check_words(confusables, "confusables")
                         if c not in words_t and c not in unknown_t)
    if per_word < 1:
        raise SettingError("per_word", f"{per_word}: must be at least 1")
    if noise_seconds < 1:
        raise SettingError("noise_seconds", f"{noise_seconds}: must be at least 1")
    if workers is not None and workers < 1:
        raise SettingError("workers", f"{workers}: must be at least 1")
    n_speakers = speakers if speakers is not None else max(10, per_word // 2)
    if n_speakers < 3:
        raise SettingError("speakers", f"{n_speakers}: need at least 3 (one per split)")
    _check_spreads(tract_spread, rate_spread, clip_seconds)
    perturb = DEFAULT_PERTURBATIONS if perturb is None else perturb
    noise_dirs = tuple(str(Path(d).expanduser().resolve()) for d in perturb.noise_dirs)
    perturb = Perturbations(**{**asdict(perturb), "noise_dirs": noise_dirs})
    noise_bank = NoiseBank(noise_dirs) if perturb.uses_noise else None  # checks the folders
    paths = espeak.locate_espeak()
    neural = _neural_voices(neural_voices, neural_share)
    params = json.loads(json.dumps({
        "format": _FORMAT_VERSION, "words": list(words_t), "unknown_words": list(unknown_t),
        "confusables": list(confusable_t), "per_word": per_word, "seed": seed,
        "speakers": n_speakers,
        "noise_seconds": noise_seconds, "espeak": espeak.library_version(paths.library),
        "perturb": asdict(perturb), "tract_spread": tract_spread, "rate_spread": rate_spread,
        "clip_seconds": clip_seconds,
        "noise_files": len(noise_bank.files) if noise_bank else 0,
        # Only when used: sets made without neural voices keep the parameters they had.
        **({"neural": {"share": neural_share,
                       "voices": {n: v.model.stat().st_size for n, v in neural.items()}}}
           if neural else {}),
    }))
    if not force:
        kept = _existing_report(out, params, start)
        if kept is not None:
            return kept
    _prepare_out_dir(out, params)

    accents = voices.list_accents(paths.data)
    variants = voices.list_variants(paths.data)
    if not accents or not variants:
        raise KwspotError(f"{paths.data}: no English accents or voice variants found")
    speaker_list = plan_speakers(n_speakers, accents, variants, seed, list(neural),
                                 neural_share)
    specs = plan_clips(list(words_t), list(unknown_t), per_word, speaker_list, seed,
                       confusable_t)
    for word in (*words_t, *unknown_t, *confusable_t, NOISE_DIR):
        (out / phrase_label(word)).mkdir(exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="kwspot-synth-") as tmp:
        mirror = voices.mirror_data_dir(paths.data, Path(tmp))
        for sp in (sp for sp in speaker_list if not sp.neural):
            base = voices.read_variant(paths.data, sp.variant)
            rng = np.random.default_rng([seed, int(sp.id[3:], 16)])
            voices.write_variant(mirror, sp.id,
                                 voices.derive_variant(base, sp.id, rng, tract_spread))
        library = espeak.private_library_copy(paths.library, Path(tmp))
        samples = clip_samples([*words_t, *unknown_t, *confusable_t], clip_seconds,
                               lambda: espeak.fresh_engine(library, mirror))
        style = ClipStyle(samples=samples, rate_spread=rate_spread, perturb=perturb)
        # Babble is eSpeak speech: of training speakers, or of any when all of them are neural.
        espeak_speakers = [sp for sp in speaker_list if not sp.neural]
        babble = [sp for sp in espeak_speakers if sp.split == "training"] or espeak_speakers
        context = _WorkerContext(str(library), str(mirror), str(out), seed, noise_seconds,
                                 babble, style, neural)
        rows = _run_tasks(context, specs, workers, progress)

    rows.sort(key=lambda r: r["path"])
    speaking = list({spec.speaker.id: spec.speaker for spec in specs}.values())
    _write_meta(out / "meta.csv", rows)
    for split, name in (("validation", "validation_list.txt"), ("testing", "testing_list.txt")):
        lines = [r["path"] for r in rows if r["split"] == split]
        (out / name).write_text("".join(f"{p}\n" for p in lines), encoding="utf-8")
    report = SynthReport(
        out_dir=out,
        clips=len(rows),
        clips_per_split=_count(r["split"] for r in rows),
        words=words_t,
        unknown_words=unknown_t,
        speakers=len(speaking),
        speakers_per_split=_count(sp.split for sp in speaking),
        base_voices=len({sp.base_voice for sp in speaking}),
        accents=tuple(sorted({sp.accent for sp in speaking})),
        noise_files=tuple(f"{NOISE_DIR}/{n}.wav" for n in NOISE_LEVELS_DB),
        elapsed_s=time.perf_counter() - start,
        clip_seconds=samples / CLIP_RATE,
        confusables=confusable_t,
        params=params,
    )
    marker = {"params": params, "report": _report_json(report)}
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    (out / PARTIAL_MARKER).unlink(missing_ok=True)
    return report


def _neural_voices(files: Sequence[str], share: float) -> dict[str, neural.VoiceFiles]:
    """The neural voices to speak with, by name: ``files``, else the installed ones; none
    when ``share`` is 0."""
    if not 0.0 <= share <= 1.0:
        raise SettingError("neural_share", f"{share}: must be within 0..1")
    if share == 0:
        return {}
    found = [neural.named_voice(f) for f in files] if files else neural.packaged_voices()
    by_name = {v.name: v for v in found}
    if len(by_name) < len(found):
        raise SettingError("neural_voices", "two voice files have the same name")
    return by_name


def _check_words(words: Sequence[str] | str, setting: str) -> tuple[str, ...]:
    """Words or phrases, lower-cased, inner white space made single spaces (a bad one is a
    :class:`SettingError` of ``setting``)."""
    if isinstance(words, str):
        words = words.split(",")
    out: list[str] = []
    labels: set[str] = set()
    for raw in words:
        word = " ".join(str(raw).lower().split())
        if not word:
            continue
        if not _PHRASE.fullmatch(word) or len(word) > _MAX_WORD_LEN:
            raise SettingError(setting, f"{raw!r} is not a word or phrase (words of letters "
                               f"a-z with inner ' or -, separated by spaces, at most "
                               f"{_MAX_WORD_LEN} characters)")
        if phrase_label(word) in labels:
            raise SettingError(setting, f"{word!r} is listed twice")
        labels.add(phrase_label(word))
        out.append(word)
    return tuple(out)


def _check_spreads(tract_spread: float, rate_spread: float, clip_seconds: float | None) -> None:
    if not 0.0 <= tract_spread <= 0.2:
        raise KwspotError(f"tract spread {tract_spread}: must be within 0..0.2")
    if not 0.0 <= rate_spread <= 0.5:
        raise KwspotError(f"rate spread {rate_spread}: must be within 0..0.5")
    if clip_seconds is not None and not 0.5 <= clip_seconds <= 10.0:
        raise KwspotError(f"clip length {clip_seconds} s: must be within 0.5..10")


def clip_samples(phrases: Sequence[str], clip_seconds: float | None,
                 new_engine: Callable[[], AbstractContextManager[espeak.Espeak]]) -> int:
    """Clip length in samples: ``clip_seconds``, or 1 s unless a phrase needs more.

    Each phrase is spoken once at a slow rate (110 words/min, stock en-us voice); the clip
    is the shortest of 1 s, 1.25 s, 1.5 s ... that holds the longest with the margin a
    1-s clip keeps around a word (faster speakers then fit, slower ones are sped up).
    """
    if clip_seconds is not None:
        return int(round(clip_seconds * CLIP_RATE))
    longest = 0
    with new_engine() as engine:
        engine.set_voice("en-us")
        for phrase in phrases:
            if " " not in phrase and len(phrase) <= 8:
                continue  # a single short word fits in 1 s
            raw = engine.synth(phrase + ".", rate=_PROBE_RATE, pitch=50, pitch_range=50, seed=1)
            longest = max(longest, trim_silence(to_clip_rate(raw)).size)
    needed = longest / CLIP_RATE + (1.0 - MAX_WORD_S)
    steps = max(0, int(np.ceil((needed - 1.0) / _CLIP_STEP_S - 1e-9)))
    return int(round((1.0 + steps * _CLIP_STEP_S) * CLIP_RATE))


def _count(items: Iterator[str]) -> dict[str, int]:
    counts = Counter(items)
    return {s: counts.get(s, 0) for s in SPLITS}


def _report_json(report: SynthReport) -> dict:
    """The report's counts for the marker (no path or timing: same seed, same bytes)."""
    data = asdict(report)
    for key in ("params", "out_dir", "elapsed_s", "reused"):
        data.pop(key)
    return data


def _existing_report(out: Path, params: dict, start: float) -> SynthReport | None:
    """The stored report if ``out`` holds a complete set made with ``params``."""
    try:
        stored = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("params") != params:
        return None
    data = stored.get("report", {})
    try:
        wavs = sum(len(list((out / phrase_label(w)).glob("*.wav"))) for w in data["words"]
                   + data["unknown_words"] + data["confusables"])
        if wavs != data["clips"] or not (out / "meta.csv").is_file():
            return None
        if not all((out / name).is_file() for name in data["noise_files"]):
            return None
        return SynthReport(
            out_dir=out, clips=data["clips"], clips_per_split=data["clips_per_split"],
            words=tuple(data["words"]), unknown_words=tuple(data["unknown_words"]),
            speakers=data["speakers"], speakers_per_split=data["speakers_per_split"],
            base_voices=data["base_voices"], accents=tuple(data["accents"]),
            noise_files=tuple(data["noise_files"]), elapsed_s=time.perf_counter() - start,
            clip_seconds=data["clip_seconds"], confusables=tuple(data["confusables"]),
            reused=True, params=params,
        )
    except (KeyError, TypeError):
        return None


def _prepare_out_dir(out: Path, params: dict) -> None:
    """Make ``out`` ready: remove an earlier synth set there, refuse other content."""
    if out.exists() and not out.is_dir():
        raise KwspotError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        previous = _previous_params(out)
        if previous is None:
            raise KwspotError(f"{out}: folder is not empty and was not written by kwspot "
                              "synth; choose a new or empty folder")
        for name in [*previous.get("words", []), *previous.get("unknown_words", []),
                     *previous.get("confusables", []), NOISE_DIR]:
            if _PHRASE.fullmatch(name) or name == NOISE_DIR:
                shutil.rmtree(out / phrase_label(name), ignore_errors=True)
        for name in ("meta.csv", "validation_list.txt", "testing_list.txt", MARKER):
            (out / name).unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / PARTIAL_MARKER).write_text(json.dumps({"params": params}) + "\n",
                                          encoding="utf-8")
    except OSError as exc:
        raise KwspotError(f"{out}: cannot write there ({exc.strerror or exc})") from None


def _previous_params(out: Path) -> dict | None:
    for name in (MARKER, PARTIAL_MARKER):
        try:
            stored = json.loads((out / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(stored, dict) and isinstance(stored.get("params"), dict):
            return stored["params"]
    return None


def _write_meta(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=META_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# --- running the work, in this process or in worker processes ------------------------------

@dataclass(frozen=True)
class _WorkerContext:
    library: str
    data: str
    out: str
    seed: int
    noise_seconds: float
    babble_speakers: list[Speaker]
    style: ClipStyle
    neural_voices: dict[str, neural.VoiceFiles] = field(default_factory=dict)  # by name

    def engine(self) -> AbstractContextManager[espeak.Espeak]:
        return espeak.fresh_engine(Path(self.library), Path(self.data))

    def engine_for(self, speaker: Speaker) -> Callable[[], AbstractContextManager]:
        """What speaks for ``speaker``: an eSpeak NG engine, or its neural voice."""
        if not speaker.neural:
            return self.engine
        return functools.partial(_neural_engine, self, speaker.variant)


_voices: dict[str, neural.NeuralVoice | neural.KokoroVoice] = {}  # loaded once per process


@contextmanager
def _neural_engine(ctx: _WorkerContext, name: str) -> Iterator[neural.NeuralEngine]:
    if name not in _voices:
        _voices[name] = neural.load_voice(ctx.neural_voices[name])
    with ctx.engine() as phonemizer:
        yield neural.NeuralEngine(_voices[name], phonemizer, espeak.SAMPLE_RATE)


_context: _WorkerContext | None = None
_noise_bank: NoiseBank | None = None

Task = tuple[str, list[ClipSpec] | str]


def _init_worker(context: _WorkerContext) -> None:
    global _context, _noise_bank
    _context = context
    perturb = context.style.perturb
    _noise_bank = NoiseBank(perturb.noise_dirs) if perturb.uses_noise else None


def _run_task(task: Task) -> tuple[int, list[dict]]:
    """Render one speaker's clips or one noise file; returns (items done, meta rows)."""
    ctx = _context
    assert ctx is not None, "worker context not set"
    kind, payload = task
    out = Path(ctx.out)
    if kind == "noise":
        assert isinstance(payload, str)
        with ExitStack() as stack:
            speak = None
            if payload == "babble":
                engine = stack.enter_context(ctx.engine())
                speak = _babble_speech(engine, ctx.babble_speakers)
            audio = make_noise(payload, ctx.noise_seconds, ctx.seed, speak)
        write_wav(out / NOISE_DIR / f"{payload}.wav", audio)
        return 1, []
    assert isinstance(payload, list)
    rows = []
    engine = ctx.engine_for(payload[0].speaker)
    for spec, pcm, row in render_speaker(payload, engine, ctx.style, _noise_bank):
        write_wav(out / spec.path, pcm)
        rows.append(row)
    return len(rows), rows


def _babble_speech(engine: espeak.Espeak, speakers: list[Speaker]) -> Speak:
    """Phrases spoken by random (training) speakers, for babble noise."""

    def speak(text: str, rng: np.random.Generator) -> np.ndarray:
        sp = speakers[int(rng.integers(len(speakers)))]
        engine.set_voice(sp.voice)
        raw = engine.synth(text, rate=round(sp.rate * rng.uniform(1.0, 1.3)),
                           pitch=round(sp.pitch), pitch_range=round(sp.pitch_range),
                           seed=int(rng.integers(1, 2**31 - 1)))
        return trim_silence(to_clip_rate(raw))

    return speak


def _run_tasks(context: _WorkerContext, specs: list[ClipSpec], workers: int | None,
               progress: bool | None) -> list[dict]:
    n_workers = _worker_count(workers, len(specs))
    by_speaker: dict[str, list[ClipSpec]] = {}
    for spec in specs:
        by_speaker.setdefault(spec.speaker.id, []).append(spec)
    tasks: list[Task] = [("noise", name) for name in NOISE_LEVELS_DB]
    tasks += [("speaker", clips) for clips in by_speaker.values()]
    total = len(specs) + len(NOISE_LEVELS_DB)
    rows: list[dict] = []
    with ExitStack() as stack:
        advance = stack.enter_context(progress_bar(total, "synthesizing", enabled=progress))
        if n_workers == 1:
            _init_worker(context)
            results: Iterator[tuple[int, list[dict]]] = map(_run_task, tasks)
        else:
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(
                min(n_workers, len(tasks)), initializer=_init_worker, initargs=(context,)))
            results = pool.imap_unordered(_run_task, tasks)
        for done, task_rows in results:
            rows.extend(task_rows)
            advance(done)
    return rows


def _worker_count(workers: int | None, clips: int) -> int:
    """Explicit ``workers``, or one per usable CPU, fewer for small jobs (start-up costs)."""
    if workers is not None:
        return workers
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 1 + clips // _CLIPS_PER_STARTUP))
