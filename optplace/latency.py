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

    Both feed Pollaczek-Khinchine, which assumes independent service times. Consecutive
    requests' switches are not independent (a request of a rare model switches in, and the
    next request usually switches back), so P-K under-predicts the wait when one model
    dominates the queue: by up to ~12% at utilisation 0.8 (docs/validation.md).
    ``switch_variance="dependent"`` keeps the Bernoulli moments but takes the mean wait from the
    exact work-conservation identity for this queue (:func:`fcfs_dependence`), within ~1% of
    simulation over the validation grid.
    """
    lam, s, scv, o = np.broadcast_arrays(*_arrays(rates_rps, service_ms, service_scv, switch_ms))
    total = float(lam.sum())
    if total <= 0:
        raise ValueError("rates_rps must contain at least one positive rate")
    share = lam / total
    switch_p = (1.0 - share) if lam.size > 1 else np.zeros_like(lam)
    mean = s + switch_p * o
    if switch_variance in ("bernoulli", "dependent"):
        second = s * s * (1.0 + scv) + 2.0 * switch_p * o * s + switch_p * o * o
    elif switch_variance == "seed":
        second = mean * mean + s * s * scv
    else:
        raise ValueError(f"switch_variance must be 'bernoulli', 'seed' or 'dependent', not {switch_variance!r}")
    rate_per_ms = total / MS_PER_S
    utilization = float(rate_per_ms * np.dot(share, mean))
    wait = np.inf if utilization >= 1.0 else float(rate_per_ms * np.dot(share, second) / (2.0 * (1.0 - utilization)))
    if switch_variance == "dependent" and utilization < 1.0:
        wait = _dependent_wait(share, s, scv, o, mean, second, rate_per_ms, utilization).mean_wait_ms
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


@dataclass(frozen=True)
class FcfsDependence:
    """Waiting time of the FCFS-with-switch queue conditioned on the previous request's class.

    ``idle_probability[j]`` is P(the device is idle and its last request was of class j);
    ``conditional_wait_ms[j]`` is E[W | the previous arrival was of class j];
    ``mean_wait_ms`` is E[W] (the mean of the conditional waits weighted by the class shares).
    """

    idle_probability: FloatArray
    conditional_wait_ms: FloatArray
    mean_wait_ms: float
    utilization: float


def fcfs_dependence(
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
) -> FcfsDependence:
    """Mean waits of the FCFS switch queue that account for dependent consecutive switches.

    Let L be the class of the last arrival (the model loaded, or about to be) and V the
    unfinished work. Applying the stationary generator to V 1[L=j] and to V^2 gives exactly
    (p_j = lambda_j / Lambda, s'_j = s_j + (1 - p_j) o_j, pi_j = P(V = 0, L = j))::

        E[W] (1 - rho) = Lambda E[S^2] / 2 - Lambda sum_j p_j^2 o_j s'_j + sum_j p_j o_j (p_j - pi_j)
        E[W | L = j]   = E[W] + s'_j - (p_j - pi_j) / (Lambda p_j)

    with E[S^2] the Bernoulli-switch second moment. When o = 0 this is Pollaczek-Khinchine.
    The idle split pi_j is the one unknown: the device goes idle after a class-j request when
    nothing arrives during that request's sojourn, so pi_j = (1 - rho) w_j / sum(w) with
    w_j = p_j E[exp(-Lambda S_j)] and S_j the class's effective service (its service Laplace
    transform at Lambda, with a switch w.p. 1 - p_j). That assumes the request's wait is
    independent of its class, the only approximation here; docs/validation.md checks the result
    against simulation.
    """
    lam, s, scv, o = np.broadcast_arrays(*_arrays(rates_rps, service_ms, service_scv, switch_ms))
    total = float(lam.sum())
    if total <= 0:
        raise ValueError("rates_rps must contain at least one positive rate")
    share = lam / total
    switch_p = (1.0 - share) if lam.size > 1 else np.zeros_like(lam)
    mean = s + switch_p * o
    second = s * s * (1.0 + scv) + 2.0 * switch_p * o * s + switch_p * o * o
    rate_per_ms = total / MS_PER_S
    utilization = float(rate_per_ms * np.dot(share, mean))
    if utilization >= 1.0:
        inf = np.full_like(s, np.inf)
        return FcfsDependence(np.zeros_like(s), inf, np.inf, utilization)
    return _dependent_wait(share, s, scv, o, mean, second, rate_per_ms, utilization)


def _dependent_wait(
    share: FloatArray,
    s: FloatArray,
    scv: FloatArray,
    o: FloatArray,
    mean: FloatArray,
    second: FloatArray,
    rate_per_ms: float,
    utilization: float,
) -> FcfsDependence:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        safe_scv = np.maximum(scv, 1e-12)
        laplace = np.where(scv > 0, (1.0 + rate_per_ms * s * safe_scv) ** (-1.0 / safe_scv), np.exp(-rate_per_ms * s))
    if share.size > 1:
        laplace = laplace * (share + (1.0 - share) * np.exp(-rate_per_ms * o))
    weight = share * laplace
    idle = (1.0 - utilization) * weight / weight.sum() if weight.sum() > 0 else (1.0 - utilization) * share
    numerator = (
        rate_per_ms * float(np.dot(share, second)) / 2.0
        - rate_per_ms * float(np.sum(share * share * o * mean))
        + float(np.sum(share * o * (share - idle)))
    )
    wait = max(numerator / (1.0 - utilization), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = np.where(share > 0, wait + mean - (share - idle) / (rate_per_ms * share), wait)
    return FcfsDependence(idle, np.maximum(conditional, 0.0), wait, utilization)


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


# Safety factor on the tail probability of multicore_ps_quantile (see its docstring).
MULTICORE_TAIL_MARGIN = 1.35


def multicore_ps_latency(rates_rps: ArrayLike, service_ms: ArrayLike, cores: float = 1.0) -> QueueLatency:
    """Exact mean response of processor sharing on ``cores`` cores where a request uses at most one.

    With n requests present each runs at rate min(1, cores / n) (a CPU's scheduler sharing
    ``cores`` cores between single-threaded requests; ``cores`` may be fractional). That is a
    symmetric queue, so it is insensitive to the service distribution: the number present has
    pi_n proportional to a^n / prod_{k<=n} min(k, cores), with a = Lambda E[S] the offered load
    in cores, and the mean response is proportional to the request's size (generalised processor
    sharing): R_i = s_i E[N] / (Lambda E[S]). One core gives s / (1 - rho) exactly. Compared with
    :func:`frontend_latency` (which pools the cores into one PS server), this is lower for
    cores > 1 (much lower at high load: 42 vs 120 ms for 24 ms requests on 4 cores at
    utilisation 0.8) and higher for cores < 1, where the pooled formula is optimistic.
    """
    if cores <= 0:
        raise ValueError("cores must be positive")
    lam, s = np.broadcast_arrays(*_arrays(rates_rps, service_ms))
    offered = float(np.dot(lam, s) / MS_PER_S)
    utilization = offered / cores
    if utilization >= 1.0:
        return QueueLatency(np.where(s > 0, np.inf, 0.0), utilization, False)
    total = float(lam.sum()) / MS_PER_S
    if offered <= 0 or total <= 0:
        return QueueLatency(s.copy(), utilization, True)
    occupancy, _ = _multicore_occupancy(offered, cores)
    mean_service = offered / total
    return QueueLatency(s * occupancy / (total * mean_service), utilization, True)


def _multicore_occupancy(offered: float, cores: float) -> tuple[float, float]:
    """E[N] and P(N >= cores) of the symmetric queue with rate min(n, cores) and offered load ``offered``."""
    rho = offered / cores
    top = int(np.ceil(cores))  # for n >= top every request present is slowed (min(n, c) = c)
    weights = [1.0]
    for n in range(1, top + 1):
        weights.append(weights[-1] * offered / min(n, cores))
    head = np.array(weights)
    tail_mass = head[-1] * rho / (1.0 - rho)
    tail_mean = head[-1] * (top * rho / (1.0 - rho) + rho / (1.0 - rho) ** 2)
    norm = float(head.sum() + tail_mass)
    occupancy = float((np.arange(top + 1) * head).sum() + tail_mean) / norm
    # An arrival that finds n others is slowed (below its one-core speed) when n + 1 > cores,
    # i.e. n >= floor(cores); on less than one core it is slowed whenever it is not alone.
    slowed = float(head[int(np.floor(cores)) :].sum() + tail_mass) / norm if cores >= 1 else 1.0 - 1.0 / norm
    return occupancy, min(max(slowed, 0.0), 1.0)


def multicore_ps_quantile(
    q: float,
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    cores: float = 1.0,
    *,
    tail_margin: float = MULTICORE_TAIL_MARGIN,
) -> QueueLatency:
    """Approximate q-quantile for :func:`multicore_ps_latency`: R_i = s_i / min(1, cores) + D_i.

    The slowdown D_i gets the exponential-tail form of :func:`ps_quantile` with the exact mean
    E[D_i] = R_i - s_i / min(1, cores) and, as its busy probability, the probability that an
    arriving request finds every core taken (it then shares); the tail probability is read at
    (1 - q) / ``tail_margin``, a safety factor for quantiles near the edge of the busy mass.
    docs/validation.md compares it with simulation.
    """
    if not 0.0 < q < 1.0:
        raise ValueError("q must lie strictly between 0 and 1")
    if tail_margin < 1.0:
        raise ValueError("tail_margin must be at least 1")
    q = 1.0 - (1.0 - q) / tail_margin
    mean = multicore_ps_latency(rates_rps, service_ms, cores)
    if not mean.stable:
        return mean
    (s,) = _arrays(service_ms)
    s = np.broadcast_to(s, mean.latency_ms.shape)
    lam, _ = np.broadcast_arrays(*_arrays(rates_rps, service_ms))
    offered = float(np.dot(lam, s) / MS_PER_S)
    alone = s / min(1.0, cores)
    if offered <= 0:
        return QueueLatency(alone.copy(), mean.utilization, True)
    _, slowed = _multicore_occupancy(offered, cores)
    delay = _exp_tail_quantile(np.maximum(mean.latency_ms - alone, 0.0), slowed, q)
    return QueueLatency(alone + delay, mean.utilization, True)


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


# The tail of the numerical FCFS response-time distribution is read at 1 - (1 - q) / margin
# instead of q: a safety factor on the tail probability that absorbs the remaining modelling error
# (the idle split and the one-step dependence, see fcfs_response_distribution) where a quantile
# sits on a steep part of the distribution. Chosen on a calibration grid, checked on a separate
# validation grid (docs/validation.md).
FCFS_TAIL_MARGIN = 1.35


@dataclass(frozen=True)
class ResponseDistribution:
    """Per-class response-time distribution on a uniform grid (``cdf[i, k]`` = P(R_i <= grid[k]))."""

    grid_ms: FloatArray
    cdf: NDArray[np.float64]
    utilization: float
    stable: bool

    def quantile(self, q: float) -> FloatArray:
        """Smallest grid point whose CDF reaches ``q``, per class (inf when unstable)."""
        if not self.stable:
            return np.full(self.cdf.shape[0], np.inf)
        top = len(self.grid_ms) - 1
        index = np.array([min(int(np.searchsorted(row, q - 1e-12)), top) for row in self.cdf])
        return self.grid_ms[index]

    def mean_ms(self) -> FloatArray:
        """Mean per class (sum of the survival function times the grid step)."""
        if not self.stable:
            return np.full(self.cdf.shape[0], np.inf)
        step = float(self.grid_ms[1] - self.grid_ms[0])
        return step * np.sum(1.0 - self.cdf[:, :-1], axis=1)


def fcfs_response_distribution(
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
    *,
    points: int = 4096,
) -> ResponseDistribution:
    """Response-time distribution of each class in the FCFS queue with switch overhead.

    Built in three numerical steps on a grid (every discretisation rounds mass *up*, so the
    grid distribution is stochastically no smaller than the one it approximates):

    1. the waiting time W of the same queue with independent (Bernoulli) switches, exactly, by
       the Pollaczek-Khinchine / Benes series W = sum_{n<=N} R_n, N ~ Geometric(rho), R the
       equilibrium residual of the effective service (summed by FFT);
    2. the wait conditioned on the previous request's class j, by one Lindley step from W:
       (W + S_j - E)^+ with S_j the class-j effective service and E ~ Exp(Lambda) the gap to
       the next arrival; its positive part is then scaled to the exact conditional mean of
       :func:`fcfs_dependence` (this is where the dependence between switches enters);
    3. R_i = X_i + o_i 1[j != i] + W_j mixed over j with the class shares, X_i the class's
       own (gamma or deterministic) service.
    """
    lam, s, scv, o = np.broadcast_arrays(*_arrays(rates_rps, service_ms, service_scv, switch_ms))
    moments = fcfs_moments(lam, s, scv, o, switch_variance="dependent")
    n = lam.size
    if moments.utilization >= 1.0:
        return ResponseDistribution(np.array([0.0, 1.0]), np.zeros((n, 2)), moments.utilization, False)
    share = lam / lam.sum()
    rate_per_ms = float(lam.sum()) / MS_PER_S
    rho = moments.utilization
    dependence = _dependent_wait(share, s, scv, o, moments.mean_service_ms, moments.second_moment_ms2, rate_per_ms, rho)
    upper = np.array([_gamma_upper(si, ci) for si, ci in zip(s, scv)])
    top = float(np.max(upper + o))
    spread = float(np.max(dependence.conditional_wait_ms)) / max(rho, 1e-9)
    horizon = 2.0 * top + 40.0 * max(spread, float(moments.mean_wait_ms) / max(rho, 1e-9))
    for _ in range(4):
        cdf, grid = _fcfs_grid(share, s, scv, o, moments, dependence, rate_per_ms, rho, horizon, points)
        if np.all(cdf[:, -2] >= 1.0 - 1e-7):
            break
        horizon *= 2.0
    return ResponseDistribution(grid, cdf, rho, True)


def _gamma_upper(mean: float, scv: float) -> float:
    """A point above which a gamma service time (mean, SCV) lies with probability < 1e-7."""
    if scv <= 0:
        return float(mean)
    from scipy.stats import gamma

    shape = 1.0 / scv
    return float(gamma.ppf(1.0 - 1e-7, shape, scale=mean / shape))


def _fcfs_grid(share, s, scv, o, moments, dependence, rate_per_ms, rho, horizon, points):
    from scipy import fft, signal
    from scipy.stats import gamma

    n = share.size
    size = points + 1
    step = horizon / points
    grid = np.arange(size) * step
    fft_n = fft.next_fast_len(2 * size, real=True)

    def lattice(x: float) -> int:
        return int(min(np.ceil(x / step - 1e-9), points))

    def shift(pmf: FloatArray, by: int) -> FloatArray:
        if by <= 0:
            return pmf
        out = np.zeros_like(pmf)
        out[by:] = pmf[: size - by]
        out[-1] += pmf[size - by :].sum()
        return out

    def clean(pmf: FloatArray, mass: float = 1.0) -> FloatArray:
        pmf = np.maximum(pmf[:size], 0.0)
        pmf[-1] += max(mass - pmf.sum(), 0.0)  # what lies beyond the grid sits on its last point
        return pmf

    own = np.zeros((n, size))
    for i in range(n):
        if scv[i] > 0:
            shape = 1.0 / scv[i]
            cdf = gamma.cdf(grid, shape, scale=s[i] / shape)
            own[i, 1:] = np.diff(cdf)
            own[i, -1] += 1.0 - cdf[-1]
        else:
            own[i, lattice(s[i])] = 1.0
    switch_p = moments.switch_probability
    effective = np.array([(1.0 - switch_p[i]) * own[i] + switch_p[i] * shift(own[i], lattice(o[i])) for i in range(n)])
    mixture = share @ effective
    survival = 1.0 - np.cumsum(mixture)  # P(S > k step) on the lattice
    residual = np.zeros(size)
    residual[1:] = survival[:-1]  # P(S >= k), k >= 1: the lattice equilibrium residual, unnormalised
    residual /= residual.sum()
    wait_hat = (1.0 - rho) / (1.0 - rho * fft.rfft(residual, fft_n))
    wait = clean(fft.irfft(wait_hat, fft_n)[:size])
    wait_fft = fft.rfft(wait, fft_n)

    decay = np.exp(-rate_per_ms * step)
    conditional = np.zeros((n, size))
    for j in range(n):
        z = clean(fft.irfft(wait_fft * fft.rfft(effective[j], fft_n), fft_n)[:size])
        above = np.concatenate([np.cumsum(z[::-1])[::-1][1:], [0.0]])  # P(Z > k)
        discounted = signal.lfilter([1.0], [1.0, -decay], z[::-1])[::-1]  # sum_{m>=k} z_m decay^(m-k)
        tail = np.clip(above - decay * np.concatenate([discounted[1:], [0.0]]), 0.0, 1.0)  # P(V > k)
        target = float(dependence.conditional_wait_ms[j])
        current = step * float(tail[:-1].sum())
        if target <= 0.0 or current <= 0.0:
            tail = np.zeros(size)
        else:
            factor = target / current
            tail = np.interp(grid / factor, grid, tail, right=0.0)
        pmf = np.empty(size)
        pmf[0] = 1.0 - tail[0]
        pmf[1:] = tail[:-1] - tail[1:]
        pmf[-1] += tail[-1]
        conditional[j] = np.maximum(pmf, 0.0)
    blended = share @ conditional
    cdf = np.empty((n, size))
    for i in range(n):
        mixed = share[i] * conditional[i] + shift(blended - share[i] * conditional[i], lattice(o[i]))
        response = clean(fft.irfft(fft.rfft(mixed, fft_n) * fft.rfft(own[i], fft_n), fft_n)[:size])
        cdf[i] = np.minimum(np.cumsum(response), 1.0)
    return cdf, grid


def fcfs_response_quantile(
    q: float,
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
    *,
    tail_margin: float = FCFS_TAIL_MARGIN,
) -> QueueLatency:
    """Conservative q-quantile of per-class response time in the FCFS queue with switches.

    Reads :func:`fcfs_response_distribution` at 1 - (1 - q) / ``tail_margin``. Unlike
    :func:`fcfs_quantile` (exponential waiting-time tail, independent switches) it keeps the
    shape of the waiting time (long residuals of slow models) and the dependence between a
    request's switch and its wait, which the simulation shows matter (docs/validation.md).
    """
    if not 0.0 < q < 1.0:
        raise ValueError("q must lie strictly between 0 and 1")
    if tail_margin < 1.0:
        raise ValueError("tail_margin must be at least 1")
    dist = fcfs_response_distribution(rates_rps, service_ms, service_scv, switch_ms)
    level = 1.0 - (1.0 - q) / tail_margin
    return QueueLatency(dist.quantile(level), dist.utilization, dist.stable)


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

    service_ms, scv = np.broadcast_arrays(service_ms, scv)
    variable = scv > 0  # deterministic entries get 0 without asking scipy for a zero-scale gamma
    excess = np.zeros(service_ms.shape)
    shape = 1.0 / scv[variable]
    excess[variable] = gamma.ppf(q, shape, scale=service_ms[variable] * scv[variable]) - service_ms[variable]
    return np.maximum(excess, 0.0)


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


def accelerator_latency(
    discipline: str,
    q: float | None,
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
    *,
    ps_model: str = "exact",
) -> QueueLatency:
    """Per-class latency of one accelerator in its discipline: the mean (``q`` None) or the q-quantile.

    ``"ps"`` uses the PS model named by ``ps_model``; ``"fcfs"`` and ``"dedicated"`` (a one-backend
    FCFS queue) use the FCFS-with-switch model.
    """
    if discipline == "ps":
        if q is None:
            return ps_latency(rates_rps, service_ms, variant=ps_model)
        return ps_quantile(q, rates_rps, service_ms, variant=ps_model)
    if q is None:
        return fcfs_latency(rates_rps, service_ms, service_scv, switch_ms)
    return fcfs_quantile(q, rates_rps, service_ms, service_scv, switch_ms)
