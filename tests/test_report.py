"""kwspot report: the curves PNG and the best row in the seed's format."""

from __future__ import annotations

from pathlib import Path

import pytest

from kwspot.cli import main
from kwspot.report import load_run
from kwspot.trainlog import HEADER, LogRow, TrainLog


def _row(it: int, valid_acc: float, every: int) -> LogRow:
    return LogRow(lr=0.01 * (1 - it / 1000), iter=it, epoch=it / 50, num_m=it * 64 / 1e6,
                  valid_loss=2.5 - valid_acc, valid_acc=valid_acc,
                  train_loss=0.0 if it == 0 else 2.0 - it / every / 10,
                  train_acc=0.0 if it == 0 else 0.2 + it / every / 20, batch_loss=1.5,
                  batch_acc=0.5, time_s=65.0 * it / every, clips_per_s=900.0)


def _write_run(run: Path, accs: list[float], every: int) -> list[LogRow]:
    log = TrainLog(run, fine=every % 100 != 0, resume=False)
    rows = [_row(i * every, a, every) for i, a in enumerate(accs)]
    for r in rows:
        log.row(r)
    log.close()
    return rows


def test_report_plots_and_prints_the_best_row(tmp_path: Path, capsys) -> None:
    from matplotlib.image import imread

    # iteration 0 never counts as best; on a tie the earlier row wins (as best.pt does)
    rows = _write_run(tmp_path / "run", [0.9, 0.3, 0.6, 0.6, 0.5], every=20)
    assert main(["report", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out.splitlines()
    best = rows[2].format(fine=True)
    assert HEADER in out and best in out and out[out.index(HEADER) + 1] == best
    assert "0.040 k" in best and "0 hr 02 min" in best
    png = tmp_path / "run" / "curves.png"
    assert f"kwspot: curves: {png}" in out
    img = imread(png)
    assert img.shape[1] > 2 * img.shape[0] > 600  # two panels side by side


def test_report_to_another_png_and_coarse_rows(tmp_path: Path, capsys) -> None:
    rows = _write_run(tmp_path / "run", [0.1, 0.4, 0.7, 0.65], every=500)
    out_png = tmp_path / "figs" / "c.png"
    assert main(["report", str(tmp_path / "run"), "--out", str(out_png)]) == 0
    assert out_png.read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "run" / "curves.png").exists()
    assert rows[3 - 1].format() in capsys.readouterr().out  # "1.0 k" style, iter 1000
    rep = load_run(tmp_path / "run")
    assert rep.best == rows[2] and not rep.fine and len(rep.rows) == 4


def test_report_refuses_a_folder_without_metrics(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "metrics.jsonl: no such file" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "metrics.jsonl").write_text("")
    assert main(["report", str(tmp_path)]) == 2
    assert "no rows yet" in capsys.readouterr().err


def test_resumed_rows_replace_older_ones(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_run(run, [0.1, 0.5, 0.8], every=100)
    log = TrainLog(run, fine=False, resume=True)
    log.row(_row(200, 0.4, 100))  # the run resumed from iteration 100 and re-logged 200
    log.close()
    rep = load_run(run)
    assert [r["iter"] for r in rep.rows] == [0, 100, 200]
    assert rep.best is not None and rep.best.iter == 100
    assert rep.best.valid_acc == pytest.approx(0.5)
