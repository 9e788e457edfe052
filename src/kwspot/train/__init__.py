"""Training: the step, the loop and their parts.

* :mod:`~kwspot.train.step`: one iteration (augment → front-end → SpecAugment/mixup → model →
  loss → update) with the optimizer, EMA and learning-rate schedule builders; the benchmarks
  time this same step;
* :mod:`~kwspot.train.batches`: where batches come from (waveforms or precomputed features);
* :mod:`~kwspot.train.loop`: :func:`train`, the loop that validates, logs and saves;
* :mod:`~kwspot.train.device`, :mod:`~kwspot.train.signals`, :mod:`~kwspot.train.rundir`,
  :mod:`~kwspot.train.data`, :mod:`~kwspot.train.validate`, :mod:`~kwspot.train.progress`.
"""

from kwspot.train.loop import TrainResult, train
from kwspot.train.step import TrainStep, lr_at
from kwspot.train.validate import evaluate_split

__all__ = ["TrainResult", "TrainStep", "evaluate_split", "lr_at", "train"]
