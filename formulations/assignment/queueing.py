"""The latency model's monotone inversions, vectorised for the assignment formulation.

Every number comes from :mod:`optplace.latency` (model v2, the evaluator's): this module only maps
its scalar functions over the formulation's arrays and inverts the monotone ones into utilisation
thresholds; ``model.md`` says how each one enters the rows. Thresholds are the largest
utilisation that still meets a budget, rounded *down*, or ``-inf`` where no utilisation does.
"""

from __future__ import annotations

import numpy as np

from optplace import latency


def kappa(rho: np.ndarray | float) -> np.ndarray:
    """``rho / (1 - rho)``: the additive PS model's delay factor (R - s = S kappa(rho)), increasing in ``rho``."""
    rho = np.asarray(rho, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(rho < 1.0, rho / (1.0 - rho), np.inf)


def tail_factor(rho: float, q: float) -> float:
    """Model v1's exponential-tail factor, which the conservative multi-class FCFS percentile rows still use.

    Those rows approximate model v2 (model.md, section 3.4); their solutions are verified and repaired.
    """
    return latency.exponential_tail_factor(rho, q)


def frontend_delay_ms(preprocess_ms: np.ndarray, load: float, q: np.ndarray) -> np.ndarray:
    """Front-end stage latency at node utilisation ``load`` per application (``q`` NaN for a mean SLO)."""
    p = np.asarray(preprocess_ms, dtype=np.float64)
    return np.array(
        [
            latency.frontend_request_ms(float(pre), load, None if np.isnan(quantile) else float(quantile))
            for pre, quantile in zip(p, q)
        ]
    )


def ps_threshold(
    service_ms: np.ndarray, budget_ms: np.ndarray, q: np.ndarray, scv: np.ndarray, cap: float, *, relaxed: bool = False
) -> np.ndarray:
    """Largest PS utilisation (exact model) meeting ``R <= budget``: ``1 - s/budget`` for the mean (exact), else
    v2's percentile threshold, conservative or ``relaxed`` (:func:`optplace.latency.ps_utilization_threshold`)."""
    s = np.asarray(service_ms, dtype=np.float64)
    b = np.asarray(budget_ms, dtype=np.float64)
    out = np.full(s.shape, -np.inf)
    for i in range(s.size):
        if np.isnan(q[i]):
            out[i] = 1.0 - s[i] / b[i] if b[i] >= s[i] else -np.inf
        else:
            out[i] = latency.ps_utilization_threshold(
                float(q[i]), float(b[i]), float(s[i]), float(scv[i]), cap, relaxed=relaxed
            )
    return np.minimum(out, cap)


def fcfs_single_threshold(
    service_ms: np.ndarray,
    second_ms2: np.ndarray,
    budget_ms: np.ndarray,
    q: np.ndarray,
    scv: np.ndarray,
    cap: float,
) -> np.ndarray:
    """Largest utilisation of a one-class M/G/1 queue meeting ``R <= budget``.

    Mean (Pollaczek-Khinchine, exact for one class): ``s + r rho / (1 - rho) <= budget`` with
    ``r = E[S^2] / (2 s)``, so ``rho <= T / (T + r)``, ``T = budget - s``. Quantile: model v2's
    one-class percentile, inverted by :func:`optplace.latency.fcfs_utilization_threshold`.
    """
    s = np.asarray(service_ms, dtype=np.float64)
    r = np.asarray(second_ms2, dtype=np.float64) / (2.0 * s)
    b = np.asarray(budget_ms, dtype=np.float64)
    out = np.full(s.shape, -np.inf)
    for i in range(s.size):
        if np.isnan(q[i]):
            slack = b[i] - s[i]
            out[i] = slack / (slack + r[i]) if slack >= 0 else -np.inf
        else:
            out[i] = latency.fcfs_utilization_threshold(float(q[i]), float(b[i]), float(s[i]), float(scv[i]), cap)
    return np.minimum(out, cap)
