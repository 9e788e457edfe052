"""``kwspot evaluate``: accuracy, loss, per-class figures, confusion matrix (table and PNG) of
one or more models on a split; optional test-time augmentation and ensemble."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kwspot.cli.common import (
    DATA_FIELDS,
    add_data_args,
    add_runtime_args,
    add_settings,
    given,
    settings_from,
)
from kwspot.errors import KwspotError
from kwspot.evaluate.settings import EvaluateSettings

SUBSETS = ("testing", "validation", "training", "all")
RULES = ("auto", "lists", "hash")


class _SplitAction(argparse.Action):
    """``--split testing|validation|training|all`` picks the split to evaluate; ``--split
    auto|lists|hash`` the split rule (as in ``kwspot train``); both may be given."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        setattr(namespace, "subset" if values in SUBSETS else "split", values)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="accuracy, per-class figures and confusion matrix",
                       description="Evaluate checkpoints (.pt) or exported models (.onnx) on a "
                       "split of a dataset. Data options default to the ones the (first) model "
                       "was trained with. A pre-labeled 12-class folder (the layout of the "
                       "official test set) that the model was not trained on is scored whole.",
                       conflict_handler="resolve")
    add_data_args(p, required=False)
    p.add_argument("--checkpoint", action="append", required=True, metavar="MODEL",
                   help="a .pt checkpoint, a run folder or a .onnx file; repeat to compare")
    p.add_argument("--split", action=_SplitAction, choices=SUBSETS + RULES, default=None,
                   metavar="SPLIT", help="the split to evaluate: testing, validation, training "
                   "or all (default: all for a pre-labeled folder the model was not trained "
                   "on, else testing); or the split rule: auto, lists or hash (default: the "
                   "model's)")
    p.add_argument("--subset", choices=SUBSETS, default=None,
                   help="the split to evaluate (same as --split testing|validation|training|all)")
    add_settings(p, EvaluateSettings)
    p.add_argument("--json", default=None, metavar="PATH", help="write every figure as JSON")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="confusion heat map of the model (or ensemble) "
                        "(default: <run>/confusion_<subset>.png)")
    add_runtime_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from kwspot.data.dataset import DataConfig, load_dataset
    from kwspot.evaluate import (
        evaluate_classifier,
        evaluate_ensemble,
        format_comparison,
        format_confusion,
        format_per_class,
        format_summary,
    )
    from kwspot.outputs import atomic_open

    several = len(args.checkpoint) > 1
    settings = settings_from(args, EvaluateSettings)
    clfs = _load_models(args, settings)
    cfg = DataConfig(**{**data_defaults(clfs[0]), **_given_data(args)})
    if not cfg.root:
        raise KwspotError("--data ROOT is required (the model does not record its dataset)")
    first = data_defaults(clfs[0])
    others = [c for c, clf in zip(args.checkpoint[1:], clfs[1:], strict=True)
              if "root" in first and "root" in data_defaults(clf)
              and data_defaults(clf) != first]
    if others and not _given_data(args):
        print(f"kwspot: note: other data settings in {', '.join(others)}; all models are "
              f"evaluated on the data of {args.checkpoint[0]}", file=sys.stderr)
    data = load_dataset(cfg, for_training=False)
    subset = args.subset or default_subset(data, first.get("root"))
    split = data.whole() if subset == "all" else data.splits[subset]
    if len(split) == 0:
        raise KwspotError(f"{cfg.root}: the {subset} split is empty")
    print(f"kwspot: {describe_scored(data, split)}")

    results = [evaluate_classifier(clf, split.waves, split.labels, tta=settings.tta,
                                   batch_size=settings.batch_size,
                                   label_names=data.labels.names)
               for clf in clfs]
    for c, r in zip(args.checkpoint, results, strict=True):
        r.info["checkpoint"] = c
    columns = _short_names(args.checkpoint)
    main = results[0]
    if settings.ensemble:
        main = evaluate_ensemble(results)
        main.info["checkpoint"] = "ensemble"
        columns.append("ensemble")
    shown = [*results, main] if settings.ensemble else results
    if several:
        print()
        print(format_comparison(shown, columns))
    if not several or settings.ensemble:
        what = "ensemble" if settings.ensemble else main.info["model"]
        print(f"\n{what}: {format_summary(main)}\n")
        print(format_per_class(main))
        print(f"\nconfusion matrix ({subset}; rows true, columns predicted):")
        print(format_confusion(main))

    print()
    _plot(args, results, main if settings.ensemble else None, columns, subset)

    if args.json:
        doc: dict[str, Any] = {
            "subset": subset, "clips": len(split), "files_found": len(data.layout.clips),
            "data": _jsonable(vars(cfg)),
            "models": [r.to_dict() for r in results],
        }
        if settings.ensemble:
            doc["ensemble"] = main.to_dict()
        with atomic_open(args.json) as f:
            f.write(json.dumps(doc, indent=1) + "\n")
        print(f"kwspot: figures written to {args.json}")
    return 0


def _load_models(args: argparse.Namespace, settings: EvaluateSettings) -> list[Any]:
    """The classifiers of ``--checkpoint``, after checking the options that go with them (and
    that the output files can be written: before the evaluation, not after)."""
    from kwspot.infer.backend import load_classifier
    from kwspot.outputs import output_path

    several = len(args.checkpoint) > 1
    if args.plot and several and not settings.ensemble:
        raise KwspotError("--plot names one file: use it with one --checkpoint or with "
                          "--ensemble (other models' maps go beside their checkpoints)")
    if settings.ensemble and not several:
        raise KwspotError("--ensemble needs two or more --checkpoint")
    for out in (args.plot, args.json):
        if out:
            output_path(out)
    clfs = [load_classifier(c, device=args.device, threads=args.threads) for c in args.checkpoint]
    for c, clf in zip(args.checkpoint[1:], clfs[1:], strict=True):
        if tuple(clf.labels) != tuple(clfs[0].labels):
            raise KwspotError(f"{c}: labels ({','.join(clf.labels)}) differ from "
                              f"{args.checkpoint[0]}'s ({','.join(clfs[0].labels)}); models "
                              "compared or ensembled must share the label list")
    return clfs


def _plot(args: argparse.Namespace, results: list[Any], ensemble: Any, columns: list[str],
          subset: str) -> None:
    """Confusion heat maps beside each model (``--plot`` for the single model or the
    ensemble)."""
    from kwspot.evaluate import plot_confusion

    paths = _plot_paths(args.checkpoint, subset)
    for i, (r, path) in enumerate(zip(results, paths, strict=True)):
        if i == 0 and args.plot and len(results) == 1:
            path = Path(args.plot)
        title = (f"{r.info['model']} ({columns[i]}) on {subset}: accuracy "
                 f"{r.accuracy:.4f}, {r.count} clips")
        print(f"kwspot: confusion heat map: {plot_confusion(r, path, title=title)}")
    if ensemble is not None:
        path = Path(args.plot) if args.plot else paths[0].with_name(
            f"confusion_{subset}_ensemble.png")
        title = (f"ensemble of {len(results)} on {subset}: accuracy {ensemble.accuracy:.4f}, "
                 f"{ensemble.count} clips")
        print(f"kwspot: confusion heat map: {plot_confusion(ensemble, path, title=title)}")


def default_subset(data: Any, trained_on: str | None) -> str:
    """``all`` for a pre-labeled folder (a test set) other than the model's training data,
    else ``testing``."""
    root = Path(data.config.root).expanduser().resolve()
    same = trained_on is not None and Path(trained_on).expanduser().resolve() == root
    return "all" if data.layout.kind == "prelabeled" and not same else "testing"


def describe_scored(data: Any, split: Any) -> str:
    """``N clips scored: the testing split of ROOT, K of the M audio files found (+ S
    generated silence clips); per-class counts``."""
    names = data.labels.names
    generated = sum(src.startswith("silence:") for src in split.sources)
    found = len(data.layout.clips)
    what = (f"all of {data.config.root}" if split.name == "all"
            else f"the {split.name} split of {data.config.root}")
    extra = f" + {generated:,} generated silence clips" if generated else ""
    counts = ", ".join(f"{n} {k}" for n, k in zip(names, split.counts(len(names)), strict=True))
    return (f"{len(split):,} clips scored: {what}, {len(split) - generated:,} of the {found:,} "
            f"audio files found{extra} ({counts})")


def data_defaults(clf: Any) -> dict[str, Any]:
    """The data settings a model was trained with: a checkpoint's config, or for an ONNX file
    its labels (and a ``config`` in its metadata when the exporter stored one)."""
    from kwspot.data.dataset import recorded_data_settings

    ckpt = getattr(clf, "ckpt", None)
    config = ckpt.config if ckpt is not None else (getattr(clf, "meta", None) or {}).get("config")
    out = recorded_data_settings(config if isinstance(config, dict) else None, clf.labels)
    out.pop("negatives", None)  # training-only: not needed to rebuild the test split
    return out


def _given_data(args: argparse.Namespace) -> dict[str, Any]:
    opts = given(args, DATA_FIELDS)
    if "data" in opts:
        opts["root"] = opts.pop("data")
    return opts


def _short_names(paths: list[str]) -> list[str]:
    """``run/best.pt`` style names for table columns (whole paths where those collide)."""
    short = [f"{Path(p).parent.name}/{Path(p).name}" if Path(p).parent.name else Path(p).name
             for p in paths]
    return short if len(set(short)) == len(short) else list(paths)


def _plot_paths(checkpoints: list[str], subset: str) -> list[Path]:
    """``<run>/confusion_<subset>.png`` beside each model (``_<stem>`` added where two models
    share a folder)."""
    folders = [Path(c) if Path(c).is_dir() else Path(c).parent for c in checkpoints]
    out = []
    for c, folder in zip(checkpoints, folders, strict=True):
        shared = sum(f.resolve() == folder.resolve() for f in folders) > 1
        stem = f"_{Path(c).stem}" if shared else ""
        out.append(folder / f"confusion_{subset}{stem}.png")
    return out


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
