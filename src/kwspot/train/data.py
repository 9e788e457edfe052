"""The training run's data: the dataset's splits, plus synthesized clips mixed into training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwspot.config import TrainConfig
from kwspot.data.dataset import DataConfig, KwsData, load_dataset


@dataclass(frozen=True)
class TrainingData:
    dataset: KwsData  # every split as the data settings make it
    waves: np.ndarray  # int16 [N, T]: the training split, synthesized clips appended
    labels: np.ndarray  # int64 [N]


def load_training_data(cfg: TrainConfig, verbose: bool) -> TrainingData:
    """The dataset, plus the training waves/labels with ``synth_ratio`` synthesized clips per
    real training clip (at most) mixed in."""
    data = load_dataset(cfg.data_config(), verbose=verbose)
    tr = data.splits["training"]
    waves, labels = np.asarray(tr.waves), tr.labels
    if cfg.synth:
        syn = load_dataset(DataConfig(root=cfg.synth, words=cfg.words, cache_dir=cfg.cache_dir,
                                      seed=cfg.seed, silence_share=0.0), verbose=verbose)
        st = syn.splits["training"]
        n = min(len(st), int(round(cfg.synth_ratio * len(tr))))
        pick = np.sort(np.random.default_rng(cfg.seed).choice(len(st), size=n, replace=False))
        waves = np.concatenate([waves, np.asarray(st.waves)[pick]])
        labels = np.concatenate([labels, st.labels[pick]])
    return TrainingData(data, waves, labels)
