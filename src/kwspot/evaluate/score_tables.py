"""Text tables of a :class:`~kwspot.evaluate.score.ScoreReport`."""

from __future__ import annotations

from kwspot.evaluate.score import ScoreReport

FA_LIMITS = (0.5, 1.0, 5.0)  # false alarms per hour at which DET recall is reported


def format_score(report: ScoreReport) -> str:
    """Per word: thresholds in use, recall and false alarms per hour there, and the best
    recall of the sweep at a few false-alarm rates."""
    op = report.operating
    cfg = report.config
    head = (f"{'word':<10} {'threshold':>9} {'positives':>9} {'recall':>7} {'FA':>5} "
            f"{'FA/h':>7} | " + " ".join(f"{'R@' + format(x, 'g') + '/h':>8}" for x in FA_LIMITS))
    lines = [head, "-" * len(head)]
    curves = {c.word: c for c in report.curves}
    for w in [*report.words, "all"]:
        c = op.total if w == "all" else op.per_word[w]
        th = "" if w == "all" else f"{cfg.thresholds.get(w, cfg.threshold):.4g}"
        fa_h = op.fa_per_hour(None if w == "all" else w)
        det = " ".join(f"{curves[w].recall_at(x):>8.3f}" if curves[w].positives else
                       f"{'-':>8}" for x in FA_LIMITS)
        recall = f"{c.recall:>7.3f}" if c.positives else f"{'-':>7}"
        lines.append(f"{w:<10} {th:>9} {c.positives:>9} {recall} {c.false_alarms:>5} "
                     f"{fa_h:>7.2f} | {det}")
    return "\n".join(lines)


def describe_audio(report: ScoreReport) -> str:
    """Which negative audio was used for what, in words."""
    op = report.operating
    meas = f"{len(report.measured_on)} negative files ({op.most_hours:.2f} h)"
    if report.calibration is None:
        return f"measured on {meas}; thresholds not calibrated here"
    cal = report.calibration
    return (f"thresholds calibrated for {cal.target_fa_per_hour:g} false alarms/h on "
            f"{len(report.calibrated_on)} negative files ({cal.calibration_hours:.2f} h, "
            f"{cal.measured_fa_per_hour:.2f} FA/h there); everything below is measured on the "
            f"other {meas}, never used for calibration")
