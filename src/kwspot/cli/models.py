"""``kwspot models``: the registry as a table (params, MACs per clip, front-end)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the models with parameters and MACs per clip")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name filter")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kwspot import models
    from kwspot.errors import KwspotError

    if not models.list_models(args.pattern):
        raise KwspotError(f"no model name matches {args.pattern!r} (known: "
                          f"{', '.join(models.list_models())})")
    print(models_table(args.pattern))
    return 0


def models_table(pattern: str = "*", num_classes: int = 12) -> str:
    """One row per registered model: front-end, input shape, params, MACs per clip."""
    from kwspot import models
    from kwspot.models.profile import count_macs, count_params
    from kwspot.network import frontend_for

    rows = [("model", "front-end", "input", "params", "MACs/clip", "source")]
    for name in models.list_models(pattern):
        spec = models.get_spec(name)
        fe = frontend_for(name)
        net = models.create(name, num_classes)
        shape = fe.output_shape()
        rows.append((name, fe.kind, "x".join(map(str, shape)), f"{count_params(net):,}",
                     f"{count_macs(net, shape) / 1e6:,.1f} M", spec.paper))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    fmt = ["<", "<", "<", ">", ">", "<"]
    return "\n".join("  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, fmt, widths, strict=True))
                     for r in rows)
