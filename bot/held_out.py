"""Held-out rows: the one rule that splits labelled examples for training, retraining and evaluation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from bot.understanding import OOS

Split = tuple[NDArray[np.intp], NDArray[np.intp]]
"""Training and held-out row numbers."""

HELD_OUT = 0.2
CV_ROWS, CV_FOLDS = (200, 2000), 5
"""Within `CV_ROWS` the calibration pools out-of-fold rows: a fifth of a few hundred rows gives
a noisy quantile. Below, fold models score far below the final one (overconfident standardisation)."""


def held_out_split(labels: Sequence[str] | NDArray[np.object_], n_test: int, seed: int) -> Split:
    """`n_test` rows held out, stratified by label when it can be: every label has two
    examples and the held-out rows have room for one of each."""
    counts = Counter(labels)
    stratify = labels if min(counts.values(), default=0) >= 2 and n_test >= len(counts) else None
    train, test = train_test_split(np.arange(len(labels)), test_size=n_test, random_state=seed, stratify=stratify)
    return train, test


def held_out_folds(y: NDArray[np.object_], seed: int) -> list[Split]:
    """What calibrates a classifier: `CV_FOLDS` folds within `CV_ROWS`, else one held-out fifth;
    stratified when every label has enough examples; none when the data is too small to hold
    any out, and no fold whose training rows lack an in-scope intent or a second label."""
    index = np.arange(len(y))
    _, counts = np.unique(y, return_counts=True)
    n_test = max(round(HELD_OUT * len(y)), len(counts))
    if len(y) - n_test < 2 or len(y) < 10:
        return []
    if CV_ROWS[0] <= len(y) < CV_ROWS[1]:
        stratified = counts.min() >= CV_FOLDS
        splitter = (StratifiedKFold if stratified else KFold)(CV_FOLDS, shuffle=True, random_state=seed)
        folds: list[Split] = list(splitter.split(index, y))
    else:
        folds = [held_out_split(y, n_test, seed)]
    return [(train, test) for train, test in folds if len(set(y[train]) - {OOS}) >= 1 and len(set(y[train])) >= 2]
