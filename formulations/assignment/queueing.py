"""Closed forms and monotone inversions of the latency models that the assignment formulation linearises.

Everything is vectorised over numpy arrays and uses the same formulas as :mod:`optplace.latency`
(which the evaluator uses); ``model.md`` derives each one. The inversions return the largest
utilisation that still meets a latency budget, rounded *down* (conservative), or ``-inf`` where no
utilisation does.
"""

from __future__ import annotations

import numpy as np

BISECTION_STEPS = 100


def psi(rho: np.ndarray | float, q: float) -> np.ndarray:
    """Tail factor of the exponential waiting-time approximation: ``max(0, ln(rho / (1 - q)) / (1 - rho))``.

    For a PS queue the q-quantile of response time is ``s (1 + psi)``; for an FCFS queue the
    q-quantile of the wait is ``E[S^2] / (2 E[S]) * psi``. Increasing in ``rho`` on ``[0, 1)``.
    """
    rho = np.asarray(rho, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log(np.maximum(rho, 1e-300) / (1.0 - q)) / (1.0 - rho)
    return np.where(rho > 1.0 - q, np.where(rho < 1.0, value, np.inf), 0.0)


def kappa(rho: np.ndarray | float) -> np.ndarray:
    """``rho / (1 - rho)``: the factor of the additive PS model's queueing delay, increasing in ``rho``."""
    rho = np.asarray(rho, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(rho < 1.0, rho / (1.0 - rho), np.inf)


def psi_inverse(limit: np.ndarray, q: float, cap: float) -> np.ndarray:
    """Largest ``rho`` in ``[0, cap]`` with ``psi(rho, q) <= limit`` (``-inf`` where ``limit < 0``)."""
    limit = np.asarray(limit, dtype=np.float64)
    lo = np.full(limit.shape, min(1.0 - q, cap))
    hi = np.full(limit.shape, cap)
    at_cap = psi(cap, q) <= limit
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        ok = psi(mid, q) <= limit
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    out = np.where(at_cap, cap, lo)
    return np.where(limit < 0, -np.inf, out)


def frontend_delay_ms(preprocess_ms: np.ndarray, load: float, q: np.ndarray) -> np.ndarray:
    """Front-end PS stage delay at node utilisation ``load``: mean ``p / (1 - load)``, or ``p (1 + psi)``.

    ``q`` holds each application's quantile, NaN for a mean SLO.
    """
    p = np.asarray(preprocess_ms, dtype=np.float64)
    out = p / (1.0 - load)
    for quantile in np.unique(q[~np.isnan(q)]):
        rows = q == quantile
        out[rows] = p[rows] * (1.0 + float(psi(load, float(quantile))))
    return np.where(p > 0, out, 0.0)


def ps_threshold(service_ms: np.ndarray, budget_ms: np.ndarray, q: np.ndarray, cap: float) -> np.ndarray:
    """Largest PS utilisation (exact model) meeting ``R <= budget``: ``1 - s/budget`` for the mean, else via psi."""
    s = np.asarray(service_ms, dtype=np.float64)
    b = np.asarray(budget_ms, dtype=np.float64)
    out = np.full(s.shape, -np.inf)
    mean = np.isnan(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[mean] = np.where(b[mean] >= s[mean], 1.0 - s[mean] / b[mean], -np.inf)
    for quantile in np.unique(q[~mean]):
        rows = q == quantile
        out[rows] = psi_inverse(b[rows] / s[rows] - 1.0, float(quantile), cap)
    return np.minimum(out, cap)


def fcfs_single_threshold(
    service_ms: np.ndarray,
    second_ms2: np.ndarray,
    excess_ms: np.ndarray,
    budget_ms: np.ndarray,
    q: np.ndarray,
    cap: float,
) -> np.ndarray:
    """Largest utilisation of a one-class M/G/1 queue meeting ``R <= budget``.

    Mean: ``s + r rho / (1 - rho) <= budget`` with ``r = E[S^2] / (2 s)``, so ``rho <= T / (T + r)``.
    Quantile: ``s + excess + r psi(rho) <= budget``.
    """
    s = np.asarray(service_ms, dtype=np.float64)
    r = np.asarray(second_ms2, dtype=np.float64) / (2.0 * s)
    slack = np.asarray(budget_ms, dtype=np.float64) - s
    out = np.full(s.shape, -np.inf)
    mean = np.isnan(q)
    out[mean] = np.where(slack[mean] >= 0, slack[mean] / (slack[mean] + r[mean]), -np.inf)
    for quantile in np.unique(q[~mean]):
        rows = q == quantile
        out[rows] = psi_inverse((slack[rows] - excess_ms[rows]) / r[rows], float(quantile), cap)
    return np.minimum(out, cap)


def gamma_excess_ms(q: np.ndarray, service_ms: np.ndarray, scv: np.ndarray) -> np.ndarray:
    """The q-quantile minus the mean of a gamma service time (0 for deterministic service or a mean SLO)."""
    out = np.zeros(np.shape(service_ms))
    rows = ~np.isnan(q) & (scv > 0)
    if rows.any():
        from scipy.stats import gamma

        shape = 1.0 / scv[rows]
        scale = service_ms[rows] * scv[rows]
        out[rows] = np.maximum(gamma.ppf(q[rows], shape, scale=scale) - service_ms[rows], 0.0)
    return out
