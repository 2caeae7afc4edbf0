"""Calibrating a classifier's scores on held-out rows: confidence and the fallback threshold.

Each part of the raw score (the top intent's decision value relative to `oos`; for the
encoder and multilingual pipelines also the neighbour similarity) is standardised with statistics of held-out in-scope
rows and the parts are summed; a logistic fit on those rows (correct top intent vs not) maps
the sum to a logit; the share of the utterance's words never seen in training, beyond half,
lowers that logit by up to `COVERAGE_PENALTY`. The automatic threshold rejects
`REJECT_SHARE` (per pipeline) times the held-out in-scope error rate, clipped to
`REJECT_RANGE`. The decision values alone are calibrated too (`Calibration.own_logit`): the
ambiguity margin reads them, since the neighbour similarity lifts every intent alike. The
result is a `bot.inference.Calibration`, which serving applies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from bot.inference import Calibration, Kind, sigmoid

REJECT_SHARE: dict[str, float] = {"light": 0.45, "encoder": 0.3, "multilingual": 0.3}
"""Held-out in-scope examples the automatic threshold rejects, per held-out in-scope error.

Chosen on CLINC150 valid for ~75% OOS recall there. A less accurate model has less
separated scores and must reject more; the neighbour similarity (`encoder`, `multilingual`)
separates off-topic text better, so they give up fewer in-scope queries for the same recall
(`multilingual` on valid: 0.3 gave 88.37 / 66.0 with 10 examples an intent and 94.40 / 89.0 on
all of `train`, against 87.53 / 74.0 and 93.37 / 94.0 at 0.45)."""
REJECT_RANGE = (0.002, 0.05)
COVERAGE_PENALTY = 4.0
"""Most logit subtracted when no word was seen in training, scaled down to 0 at half the words:
gibberish falls back even in small domains, while unseen names in a message cost nothing.
`calibrate` lowers it where held-out in-scope messages often have unseen words."""
DEFAULT_CALIBRATION = (1.5, 2.0)  # slope, intercept when held-out data cannot fit one


@dataclass(frozen=True)
class HeldOut:
    """One held-out fold's evidence: top relative score, neighbour similarity, whether the
    top intent is right, which rows are in scope, and how far beyond half their words are unseen."""

    top: NDArray[np.float64]
    sims: NDArray[np.float64] | None
    correct: NDArray[np.bool_]
    inscope: NDArray[np.bool_]
    unseen_excess: NDArray[np.float64]


def default_calibration() -> Calibration:
    """For tiny training sets: assume unit-scale margins; reject below a margin of -0.5."""
    slope, intercept = DEFAULT_CALIBRATION
    return Calibration(
        0.0, 1.0, 0.0, 1.0, slope, intercept, 0.0, float(sigmoid(slope * -1.5 + intercept)), COVERAGE_PENALTY
    )


def calibrate(folds: list[HeldOut], kind: Kind) -> Calibration:
    """Pool the folds' rows. The coverage penalty is the log-likelihood ratio of mostly
    unseen words (always so for gibberish) against their held-out in-scope rate, capped at
    `COVERAGE_PENALTY`: in a small or highly inflected domain unseen words are common in
    genuine messages, so they are weaker evidence of gibberish."""
    top = np.concatenate([f.top for f in folds])
    inscope = np.concatenate([f.inscope for f in folds])
    correct = np.concatenate([f.correct for f in folds])
    excess = np.concatenate([f.unseen_excess for f in folds])
    if inscope.sum() < 2:
        return default_calibration()
    ref = top[inscope]
    rel_mean, rel_std = float(ref.mean()), float(ref.std()) or 1.0
    sims, sim_mean, sim_std = None, 1.0, 1.0
    if folds[0].sims is not None:
        sims = np.concatenate([f.sims for f in folds if f.sims is not None])
        sim_mean, sim_std = float(sims[inscope].mean()), float(sims[inscope].std()) or 1.0
    # The standardised score, by the formula serving uses: a calibration of slope 1, intercept 0.
    standard = Calibration(rel_mean, rel_std, sim_mean, sim_std, 1.0, 0.0, 0.0, 0.0, 0.0)
    z = standard.logit(top[:, None], sims)[:, 0]
    slope, intercept = _logistic(z, correct)
    own_slope, own_intercept = _logistic(standard.own_logit(top[:, None], None)[:, 0], correct)
    error_rate = float(np.mean(~correct[inscope]))
    rate = float(np.clip(REJECT_SHARE[kind] * error_rate, *REJECT_RANGE))
    coverage = float(min(COVERAGE_PENALTY, -np.log(max(float(excess[inscope].mean()), 1e-9))))
    cut = float(np.quantile((slope * z + intercept)[inscope], rate))
    return replace(
        standard,
        slope=slope,
        intercept=intercept,
        reject_rate=rate,
        auto_threshold=float(sigmoid(cut)),
        coverage_penalty=coverage,
        own_slope=own_slope if sims is not None else None,
        own_intercept=own_intercept if sims is not None else 0.0,
    )


def _logistic(z: NDArray[np.float64], correct: NDArray[np.bool_]) -> tuple[float, float]:
    """Slope and intercept of a logistic fit of `correct` on `z`, or `DEFAULT_CALIBRATION`
    when either outcome has fewer than 5 rows or the fit slopes the wrong way."""
    if min(correct.sum(), (~correct).sum()) >= 5:
        lr = LogisticRegression(C=1.0).fit(z[:, None], correct)
        if lr.coef_[0, 0] > 0:
            return float(lr.coef_[0, 0]), float(lr.intercept_[0])
    return DEFAULT_CALIBRATION
