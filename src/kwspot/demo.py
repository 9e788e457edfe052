"""``kwspot demo``: the main job on a fresh machine, offline and with no dataset.

Synthesizes a default Speech-Commands-style set with eSpeak NG and a neural voice (cached),
trains a small model for a few minutes of CPU (by default a head over the pretrained speech
embedding; without openWakeWord's model files, the seed's vggnet1), evaluates it on held-out
synthetic voices and, when real recordings are at hand (``../shared/data/sc_v2_test_part`` or
``--real DIR``), on real human speech, and prints the accuracy table and where the
confusion-matrix PNGs are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kwspot.data.cache import default_cache_dir

if TYPE_CHECKING:
    from kwspot.train.report import TrainReport

DEFAULT_REAL = Path("../shared/data/sc_v2_test_part")


@dataclass(frozen=True)
class DemoConfig:
    out: str = "runs/demo"  # run folder
    synth_dir: str | None = None  # synthesized set (default <cache>/synth-demo-<per_word>)
    real: str | None = None  # real 12-class folder to test on (default ../shared/data/...)
    model: str | None = None  # default: emb_conv (pretrained embedding), else vggnet1
    per_word: int = 200  # synthesized clips per word (4,000 clips in about a minute)
    iters: int = 600  # training iterations (~40 epochs; a few minutes on 2 cores)
    batch_size: int = 128
    log_every: int = 100
    seed: int = 0
    workers: int | None = None  # synthesis processes
    feature_copies: int | None = None  # augmented copies per clip (embedding; recipe's)


QUICK = dict(per_word=8, iters=30, batch_size=32, log_every=15, feature_copies=0)
EMBEDDING_MODEL, FALLBACK_MODEL = "emb_conv", "vggnet1"


def default_model() -> str:
    """The embedding head when openWakeWord's model files are installed, else vggnet1."""
    from kwspot.embedding import locate
    from kwspot.errors import KwspotError

    try:
        locate()
    except KwspotError:
        return FALLBACK_MODEL
    return EMBEDDING_MODEL


@dataclass(frozen=True)
class DemoResult:
    synth_dir: Path
    run_dir: Path
    rows: list[tuple[str, int, float, Path]]  # (what, clips, accuracy, confusion PNG)


def run_demo(cfg: DemoConfig, report: TrainReport | None = None) -> DemoResult:
    from kwspot.config import TrainConfig
    from kwspot.data.dataset import DataConfig, load_dataset
    from kwspot.data.synth import synthesize
    from kwspot.evaluate import evaluate_classifier, format_per_class, plot_confusion
    from kwspot.infer.backend import load_classifier
    from kwspot.models import get_spec
    from kwspot.train import train
    from kwspot.train.report import Quiet

    report = report or Quiet()
    say = report.line  # the demo's own lines go where the training log goes

    synth_dir = Path(cfg.synth_dir or default_cache_dir() / f"synth-demo-{cfg.per_word}")
    # Settings are checked before minutes of synthesis, not after.
    model = cfg.model or default_model()
    copies = {} if cfg.feature_copies is None else {"feature_copies": cfg.feature_copies}
    tcfg = TrainConfig.resolve(
        {"data": str(synth_dir), "model": model, "iters": cfg.iters,
         "batch_size": cfg.batch_size, "log_every": cfg.log_every, "seed": cfg.seed,
         "out": cfg.out, "warmup_iters": min(100, cfg.iters // 10), **copies},
        get_spec(model).recommended)
    say(f"kwspot demo: 1/3 synthesizing speech with eSpeak NG and a neural voice into "
        f"{synth_dir}")
    rep = synthesize(synth_dir, per_word=cfg.per_word, seed=cfg.seed, workers=cfg.workers)
    how = "reused" if rep.reused else f"made in {rep.elapsed_s:.1f} s"
    say(f"  {rep.clips:,} clips from {rep.speakers} synthetic speakers ({how})")

    say(f"kwspot demo: 2/3 training {model} on the synthetic training voices")
    result = train(tcfg, overwrite=True, report=report)  # a demo run replaces the last one

    say("kwspot demo: 3/3 evaluating the best checkpoint")
    clf = load_classifier(result.out / "best.pt")
    rows = []
    held = load_dataset(tcfg.data_config(), verbose=False).splits["testing"]
    res = evaluate_classifier(clf, held.waves, held.labels)
    png = plot_confusion(res, result.out / "confusion_synthetic_heldout.png",
                         title="held-out synthetic voices")
    rows.append(("held-out synthetic voices", len(held), res.accuracy, Path(png)))
    real = Path(cfg.real) if cfg.real else DEFAULT_REAL
    if real.is_dir():
        data = load_dataset(DataConfig(root=str(real), val_pct=0, test_pct=0), verbose=False)
        tr = data.splits["training"]  # all of it: the model never heard a real recording
        rres = evaluate_classifier(clf, tr.waves, tr.labels)
        png = plot_confusion(rres, result.out / "confusion_real.png",
                             title=f"real recordings: {real.name}")
        rows.append((f"real recordings ({real.name})", len(tr), rres.accuracy, Path(png)))
        say(format_per_class(rres))
    elif cfg.real:
        say(f"kwspot demo: note: {real} not found; skipping real recordings")
    say("")
    say(f"{'test set':<44} {'clips':>6} {'accuracy':>9}  confusion matrix")
    for what, n, acc, path in rows:
        say(f"{what:<44} {n:>6,} {acc:>9.2%}  {path}")
    return DemoResult(synth_dir, result.out, rows)
