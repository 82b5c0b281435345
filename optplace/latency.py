"""Analytic latency models of shared accelerators, as plain vectorised functions.

Units: rates in requests per second, times in milliseconds. Every multi-class function takes one
array entry per *class* (one backend: a model, with the rates of every application sharing it
added up) and returns a :class:`QueueLatency` with the per-class mean response time, the queue's
utilisation, and whether it is stable. An unstable queue (utilisation >= 1) reports infinite
latency rather than a negative or meaningless number.

The formulas and their sources are in ``docs/concepts.md``; the checks against simulation and
measured data are in ``docs/validation.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

MS_PER_S = 1000.0


@dataclass(frozen=True)
class QueueLatency:
    """Per-class mean response time (ms) of one queue, with its utilisation."""

    latency_ms: FloatArray
    utilization: float
    stable: bool


def _arrays(*values: ArrayLike) -> list[FloatArray]:
    return [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in values]


# --- single-class textbook queues -------------------------------------------------------------


def md1_response_ms(service_ms: ArrayLike, utilization: ArrayLike) -> FloatArray:
    """M/D/1 mean response time: s (2 - rho) / (2 (1 - rho)); inf when rho >= 1."""
    s, rho = np.broadcast_arrays(*_arrays(service_ms, utilization))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = s * (2.0 - rho) / (2.0 * (1.0 - rho))
    return np.where(rho < 1.0, out, np.inf)


def mm1_response_ms(service_ms: ArrayLike, utilization: ArrayLike) -> FloatArray:
    """M/M/1 mean response time: s / (1 - rho); over-predicts deterministic service."""
    s, rho = np.broadcast_arrays(*_arrays(service_ms, utilization))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = s / (1.0 - rho)
    return np.where(rho < 1.0, out, np.inf)


# --- multi-class FCFS with model-switch overhead (edgeTPU) ------------------------------------


@dataclass(frozen=True)
class FcfsMoments:
    """Effective service moments of a multi-class FCFS queue with switch overhead."""

    mean_service_ms: FloatArray  # E[S'_i], per class
    second_moment_ms2: FloatArray  # E[S'_i^2], per class
    switch_probability: FloatArray  # P(a class-i request pays the switch)
    utilization: float
    mean_wait_ms: float  # Pollaczek-Khinchine E[W], inf when unstable


def fcfs_moments(
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
    *,
    switch_variance: str = "bernoulli",
) -> FcfsMoments:
    """Moments of an M/G/1 FCFS queue whose requests pay a switch when the model changes.

    A class-i request follows a request of another class with probability 1 - lambda_i / Lambda
    (arrivals are Poisson, so the previous request's class is independent of this one's). Its
    effective service is S_i + B_i o_i with B_i ~ Bernoulli(1 - lambda_i / Lambda). With
    ``switch_variance="bernoulli"`` the second moment is exact for that mixture; ``"seed"`` uses
    the seed paper's (E[S'_i])^2, which treats the expected switch as deterministic.
    """
    lam, s, scv, o = np.broadcast_arrays(*_arrays(rates_rps, service_ms, service_scv, switch_ms))
    total = float(lam.sum())
    if total <= 0:
        raise ValueError("rates_rps must contain at least one positive rate")
    share = lam / total
    switch_p = (1.0 - share) if lam.size > 1 else np.zeros_like(lam)
    mean = s + switch_p * o
    if switch_variance == "bernoulli":
        second = s * s * (1.0 + scv) + 2.0 * switch_p * o * s + switch_p * o * o
    elif switch_variance == "seed":
        second = mean * mean + s * s * scv
    else:
        raise ValueError(f"switch_variance must be 'bernoulli' or 'seed', not {switch_variance!r}")
    rate_per_ms = total / MS_PER_S
    utilization = float(rate_per_ms * np.dot(share, mean))
    wait = np.inf if utilization >= 1.0 else float(rate_per_ms * np.dot(share, second) / (2.0 * (1.0 - utilization)))
    return FcfsMoments(mean, second, switch_p, utilization, wait)


def fcfs_latency(
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
    *,
    switch_variance: str = "bernoulli",
) -> QueueLatency:
    """Multi-class M/G/1 FCFS with switch overhead: R_i = E[S'_i] + W (Pollaczek-Khinchine).

    With one class and deterministic service this is exactly M/D/1.
    """
    m = fcfs_moments(rates_rps, service_ms, service_scv, switch_ms, switch_variance=switch_variance)
    stable = m.utilization < 1.0
    latency = m.mean_service_ms + m.mean_wait_ms if stable else np.full_like(m.mean_service_ms, np.inf)
    return QueueLatency(latency, m.utilization, stable)


# --- multi-class processor sharing (time-sliced GPU) ------------------------------------------


def ps_latency(rates_rps: ArrayLike, service_ms: ArrayLike, *, variant: str = "exact") -> QueueLatency:
    """Multi-class M/G/1 processor sharing.

    ``variant="exact"``: R_i = s_i / (1 - rho), the exact PS mean for any service distribution.
    ``variant="additive"``: the seed code's R_i = s_i + S/(1 - rho) - S with S the rate-weighted
    mean service time (its Eq. 6/7).
    """
    lam, s = np.broadcast_arrays(*_arrays(rates_rps, service_ms))
    utilization = float(np.dot(lam, s) / MS_PER_S)
    stable = utilization < 1.0
    if not stable:
        return QueueLatency(np.full_like(s, np.inf), utilization, False)
    if variant == "exact":
        latency = s / (1.0 - utilization)
    elif variant == "additive":
        mean_service = float(np.dot(lam, s) / lam.sum())
        latency = s + mean_service / (1.0 - utilization) - mean_service
    else:
        raise ValueError(f"variant must be 'exact' or 'additive', not {variant!r}")
    return QueueLatency(latency, utilization, True)


# --- front-end pre-processing and end to end --------------------------------------------------


def frontend_latency(rates_rps: ArrayLike, preprocess_ms: ArrayLike, cores: float = 1.0) -> QueueLatency:
    """CPU pre-processing on a node as one PS stage of capacity ``cores``.

    rho = sum(lambda_j s_j) / cores and R_j = s_j / (1 - rho). With more than one core this is
    conservative: a request cannot use more than one core, so a real c-core PS stage is faster
    at light load (R >= s there, while this gives s / (1 - rho)).
    """
    if cores <= 0:
        raise ValueError("cores must be positive")
    lam, s = np.broadcast_arrays(*_arrays(rates_rps, preprocess_ms))
    utilization = float(np.dot(lam, s) / MS_PER_S / cores)
    if utilization >= 1.0:
        return QueueLatency(np.where(s > 0, np.inf, 0.0), utilization, False)
    return QueueLatency(s / (1.0 - utilization), utilization, True)


# --- percentiles: tail approximations ---------------------------------------------------------


def _exp_tail_quantile(mean_delay_ms: FloatArray, busy: float, q: float) -> FloatArray:
    """Quantile of a delay that is 0 w.p. 1 - busy and else exponential with the right mean.

    P(D > t) = busy * exp(-busy t / E[D]) (the classic exponential waiting-time approximation,
    exact for M/M/1 FCFS waiting times).
    """
    if busy <= 0 or q <= 1.0 - busy:
        return np.zeros_like(mean_delay_ms)
    return mean_delay_ms / busy * np.log(busy / (1.0 - q))


def fcfs_quantile(
    q: float,
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
) -> QueueLatency:
    """Approximate q-quantile of per-class response time in the FCFS queue with switches.

    R_i = s_i + B_i o_i + W: the waiting time W has the exponential-tail approximation above, the
    switch is Bernoulli, and the quantile of their sum is found by bisection on the exact mixture
    P(B o + W > t) = (1 - p) P(W > t) + p P(W > t - o). Service-time variability (scv > 0) adds a
    gamma quantile excess on top, which is conservative.
    """
    if not 0.0 < q < 1.0:
        raise ValueError("q must lie strictly between 0 and 1")
    m = fcfs_moments(rates_rps, service_ms, service_scv, switch_ms)
    _lam, s, scv, o = np.broadcast_arrays(*_arrays(rates_rps, service_ms, service_scv, switch_ms))
    if m.utilization >= 1.0:
        return QueueLatency(np.full_like(s, np.inf), m.utilization, False)
    rho = m.utilization
    theta = m.mean_wait_ms / rho if rho > 0 and m.mean_wait_ms > 0 else 0.0

    def tail_w(t: FloatArray) -> FloatArray:
        if theta <= 0:
            return np.where(t < 0, 1.0, 0.0)
        return np.where(t < 0, 1.0, rho * np.exp(-np.maximum(t, 0.0) / theta))

    p = m.switch_probability
    lo = np.zeros_like(s)
    hi = o + (theta * np.log(max(rho, 1e-300) / (1.0 - q)) if theta > 0 else 0.0) + 1.0
    hi = np.maximum(hi, o + 1.0)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        tail = (1.0 - p) * tail_w(mid) + p * tail_w(mid - o)
        above = tail > (1.0 - q)
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    extra = _gamma_excess(q, s, scv)
    return QueueLatency(s + hi + extra, rho, True)


def ps_quantile(q: float, rates_rps: ArrayLike, service_ms: ArrayLike, *, variant: str = "exact") -> QueueLatency:
    """Approximate q-quantile of per-class response time in an M/G/1-PS queue.

    R_i = s_i + D_i with the slowdown delay D_i given the exponential-tail form above and the
    model's mean, E[D_i] = R_i - s_i. Simulation (docs/validation.md) shows this is conservative
    for near-deterministic service.
    """
    if not 0.0 < q < 1.0:
        raise ValueError("q must lie strictly between 0 and 1")
    mean = ps_latency(rates_rps, service_ms, variant=variant)
    (s,) = _arrays(service_ms)
    s = np.broadcast_to(s, mean.latency_ms.shape)
    if not mean.stable:
        return mean
    delay = _exp_tail_quantile(mean.latency_ms - s, mean.utilization, q)
    return QueueLatency(s + delay, mean.utilization, True)


def frontend_quantile(q: float, rates_rps: ArrayLike, preprocess_ms: ArrayLike, cores: float = 1.0) -> QueueLatency:
    """Approximate q-quantile of the front-end PS stage (same tail form as :func:`ps_quantile`)."""
    mean = frontend_latency(rates_rps, preprocess_ms, cores)
    if not mean.stable:
        return mean
    (s,) = _arrays(preprocess_ms)
    s = np.broadcast_to(s, mean.latency_ms.shape)
    delay = _exp_tail_quantile(mean.latency_ms - s, mean.utilization, q)
    return QueueLatency(s + delay, mean.utilization, True)


def _gamma_excess(q: float, service_ms: FloatArray, scv: FloatArray) -> FloatArray:
    """q-quantile minus mean of a gamma service time with the given mean and SCV (0 if SCV=0)."""
    if not np.any(scv > 0):
        return np.zeros_like(service_ms)
    from scipy.stats import gamma

    shape = np.where(scv > 0, 1.0 / np.maximum(scv, 1e-12), 1.0)
    scale = np.where(scv > 0, service_ms * np.maximum(scv, 1e-12), 0.0)
    excess = gamma.ppf(q, shape, scale=scale) - service_ms
    return np.where(scv > 0, np.maximum(excess, 0.0), 0.0)


def end_to_end_ms(frontend_ms: ArrayLike, network_ms: float, accelerator_ms: ArrayLike) -> FloatArray:
    """R_e2e = R_pre + network + R_accelerator.

    For percentiles the same sum of per-stage quantiles is used: an upper bound for the
    positively skewed, independent stages met here (checked against simulation).
    """
    pre, acc = np.broadcast_arrays(*_arrays(frontend_ms, accelerator_ms))
    return pre + network_ms + acc


# --- model sharing ----------------------------------------------------------------------------


def merge_classes(keys: list[str], rates_rps: ArrayLike) -> tuple[list[str], FloatArray, NDArray[np.intp]]:
    """Merge applications that share a backend into one class per key.

    Returns the distinct keys (first-seen order), the summed rate per class, and for every input
    row the index of its class.
    """
    (rates,) = _arrays(rates_rps)
    order: dict[str, int] = {}
    index = np.empty(len(keys), dtype=np.intp)
    for row, key in enumerate(keys):
        index[row] = order.setdefault(key, len(order))
    merged = np.zeros(len(order), dtype=np.float64)
    np.add.at(merged, index, rates)
    return list(order), merged, index
