"""Analytic latency models of shared accelerators: the one queueing kernel of optplace (model v2).

Units: rates in requests per second, times in milliseconds. Every multi-class function takes one
entry per *class* (one backend: a model, with the rates of every application sharing it added
up). An unstable queue (utilisation >= 1) reports infinite latency rather than a negative or
meaningless number.

Everything that computes a latency calls this module: the evaluator, the heuristics' incremental
probe, diagnose, the formulations' coefficients and the configuration pricing. What the model is
(docs/concepts.md, "Latency models"; derivations and checks in docs/validation.md):

* **FCFS with model-switch overhead** (edgeTPU; ``dedicated`` is its one-class case) is solved
  as the queue it is: a request pays its switch exactly when the previous request was of another
  model, so consecutive services are dependent. :class:`SwitchQueue` holds the exact solution:
  the idle split ``pi_j`` (from the n - 1 positive roots of the queue's transform denominator),
  the exact mean wait and the wait conditioned on the previous request's class, and the exact
  Cramér-Lundberg tail ``P(W > t, L = j) ~ C_j exp(-gamma t)``. Percentiles come from two exact
  Lindley steps applied to that asymptote (:func:`SwitchQueue.tail`), read at a tail margin.
* **Processor sharing** (time-sliced GPU, and the node's front-end CPU stage): exact means; the
  percentile of a request of size x is bounded by the slowdown an arbitrarily small request
  would see, ``P(R > x (1 + u)) <= rho^u`` (the number present is geometric), mixed over the
  request's own size distribution.

Functions take numpy-compatible input and return :class:`QueueLatency`; the FCFS kernel is
plain-float Python (a few classes per device), which is what the heuristics' probe calls directly.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

MS_PER_S = 1000.0

# Which model this module implements; recorded in every Evaluation and SolveResult.
LATENCY_MODEL = "v2"

# FCFS percentiles are read at tail probability (1 - q) / FCFS_TAIL_MARGIN. The two Lindley steps
# on the exact asymptote are within simulation noise of the simulated queue on the validation
# grids (docs/validation.md); the margin absorbs what is left of the approximation and keeps a
# request at its SLO clear of the simulation's confidence interval.
FCFS_TAIL_MARGIN = 1.1
# Idle-split poles closer than this (relative to the total rate) act as one group: the linear system
# over 1 / D_g at roots between poles becomes ill-conditioned as poles meet (a 6e-8 ms switch beside
# switch-free classes lost 2e-4 of the idle probability at 1e-12), while merging costs an error of
# the order of the pole distance.
POLE_MERGE_TOLERANCE = 1e-7

# Exact Lindley steps applied to the Cramér-Lundberg asymptote of the FCFS waiting time.
LINDLEY_STEPS = 2


@dataclass(frozen=True)
class QueueLatency:
    """Per-class response time (ms) of one queue (a mean or a quantile), with its utilisation."""

    latency_ms: FloatArray
    utilization: float
    stable: bool


def _arrays(*values: ArrayLike) -> list[FloatArray]:
    return [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in values]


def _check_quantile(q: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError("q must lie strictly between 0 and 1")


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


# --- service-time laws ------------------------------------------------------------------------
# A service time with mean s and squared coefficient of variation c is gamma (shape 1/c), or
# deterministic when c = 0, as in the simulator.


def _laplace(theta: float, s: float, scv: float) -> float:
    """E[exp(-theta X)]; theta may be negative (the moment generating function), inf past its pole."""
    if scv <= 0.0:
        return math.exp(-theta * s)
    base = 1.0 + theta * s * scv
    return base ** (-1.0 / scv) if base > 0.0 else math.inf


def _laplace_slope(theta: float, s: float, scv: float) -> float:
    """d/dtheta E[exp(-theta X)]."""
    if scv <= 0.0:
        return -s * math.exp(-theta * s)
    return -s * (1.0 + theta * s * scv) ** (-1.0 / scv - 1.0)


def _bracketed_root(f, lo: float, hi: float, f_lo: float, f_hi: float, tolerance: float) -> float:
    """A root of ``f`` in [lo, hi] where f changes sign (Illinois false position, bisection guarded)."""
    if f_lo == 0.0:
        return lo
    if f_hi == 0.0:
        return hi
    side = 0
    for _ in range(200):
        if hi - lo <= tolerance:
            break
        mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not lo < mid < hi:
            mid = 0.5 * (lo + hi)
        f_mid = f(mid)
        if f_mid == 0.0:
            return mid
        if (f_mid > 0.0) == (f_hi > 0.0):
            hi, f_hi = mid, f_mid
            if side == -1:
                f_lo *= 0.5
            side = -1
        else:
            lo, f_lo = mid, f_mid
            if side == 1:
                f_hi *= 0.5
            side = 1
    return 0.5 * (lo + hi)


def _solve_small(rows: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting for the few unknowns of one device."""
    size = len(rhs)
    m = [[*list(row), value] for row, value in zip(rows, rhs)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, size):
            factor = m[r][col] / m[col][col]
            for k in range(col, size + 1):
                m[r][k] -= factor * m[col][k]
    out = [0.0] * size
    for r in range(size - 1, -1, -1):
        out[r] = (m[r][size] - sum(m[r][k] * out[k] for k in range(r + 1, size))) / m[r][r]
    return out


# --- FCFS with model-switch overhead (edgeTPU): the exact queue -------------------------------


class SwitchQueue:
    """One FCFS device shared by backends that pay a switch when the model changes, solved exactly.

    Class j has Poisson rate lambda_j, share p_j = lambda_j / Lambda, service X_j (mean s_j, SCV
    c_j) and switch overhead o_j, paid exactly when the previous request was of another class. Let
    L be the class of the last arrival and V the unfinished work. Per class (tuples):

    * ``switch_probability`` 1 - p_j (0 with one class) and ``utilization`` rho = sum lambda_j s'_j,
      s'_j = s_j + (1 - p_j) o_j: exact, since the previous request's class is independent of
      this one's (Poisson arrivals).
    * ``idle`` pi_j = P(V = 0, L = j). The stationary transforms Phi_j(theta) = E[exp(-theta V); L = j]
      satisfy Phi_j D_j + u_j Phi = theta pi_j with D_j = theta - Lambda + Lambda p_j X_j*(theta)
      (1 - exp(-theta o_j)), u_j = Lambda p_j X_j*(theta) exp(-theta o_j) (X* the service
      transform). Each D_j has one root in (0, Lambda]; between consecutive roots the denominator
      1 + sum u_j / D_j has one root theta_r, where the numerator must vanish:
      sum_j pi_j / D_j(theta_r) = 0. These n - 1 equations and sum pi_j = 1 - rho give pi exactly.
    * ``mean_wait_ms`` and ``conditional_wait_ms`` (E[W | previous class j]), from the generator
      identity E[W] (1 - rho) = Lambda E[S^2] / 2 - Lambda sum p_j^2 o_j s'_j + sum p_j o_j (p_j - pi_j)
      and E[W | L = j] = E[W] + s'_j - (p_j - pi_j) / (Lambda p_j), E[S^2] with Bernoulli switches.
      With no switch overhead this is Pollaczek-Khinchine; with exact pi it is exact.
    * :meth:`tail` / :meth:`quantile`: the response time of class j is R_j = W + X_j + o_j 1[L != j].
      The waiting time has the exact Cramér-Lundberg asymptote P(W > t, L = m) ~ C_m exp(-gamma t)
      (gamma the negative root of the same denominator, C_m its residue); two exact Lindley steps
      (W' = (R - A)^+ with A ~ Exp(Lambda)) applied to min(p_m, C_m exp(-gamma t)) give the body of
      the distribution (closed form for deterministic service, a conservative grid otherwise).
    """

    def __init__(
        self,
        rates_rps: Sequence[float],
        service_ms: Sequence[float],
        scv: Sequence[float],
        switch_ms: Sequence[float],
    ):
        self._tails: dict[tuple[int, float], float] = {}
        n = len(rates_rps)
        if n == 0 or not (len(service_ms) == len(scv) == len(switch_ms) == n):
            raise ValueError("rates, service times, SCVs and switch overheads need one entry per class")
        if min(rates_rps) <= 0.0:
            raise ValueError("every class needs a positive rate")
        total = float(sum(rates_rps))
        self.n = n
        self.rate_per_ms = total / MS_PER_S
        self.share = tuple(float(r) / total for r in rates_rps)
        self.service_ms = tuple(float(x) for x in service_ms)
        self.scv = tuple(float(x) for x in scv)
        # one backend never switches: its overhead plays no part
        self.switch_ms = tuple(float(x) for x in switch_ms) if n > 1 else (0.0,)
        self.switch_probability = tuple(1.0 - p for p in self.share) if n > 1 else (0.0,)
        self.mean_service_ms = tuple(
            s + b * o for s, b, o in zip(self.service_ms, self.switch_probability, self.switch_ms)
        )
        lam = self.rate_per_ms
        self.utilization = lam * sum(p * m for p, m in zip(self.share, self.mean_service_ms))
        self.stable = self.utilization < 1.0
        if not self.stable:
            self.idle = tuple(0.0 for _ in range(n))
            self.mean_wait_ms = math.inf
            self.conditional_wait_ms = tuple(math.inf for _ in range(n))
            return
        self.idle = self._idle_split()
        second = sum(
            p * (s * s * (1.0 + c) + 2.0 * b * o * s + b * o * o)
            for p, s, c, b, o in zip(self.share, self.service_ms, self.scv, self.switch_probability, self.switch_ms)
        )
        numerator = lam * second / 2.0
        for p, o, m, pi in zip(self.share, self.switch_ms, self.mean_service_ms, self.idle):
            numerator += p * o * (p - pi) - lam * p * p * o * m
        self.mean_wait_ms = max(numerator / (1.0 - self.utilization), 0.0)
        self.conditional_wait_ms = tuple(
            max(self.mean_wait_ms + m - (p - pi) / (lam * p), 0.0)
            for p, m, pi in zip(self.share, self.mean_service_ms, self.idle)
        )

    # --- the idle split ----------------------------------------------------------------------

    def _group_terms(self, theta: float, groups: list[list[int]]) -> tuple[list[float], list[float]]:
        """D_g(theta) (shared by a group's classes) and U_g(theta) = sum of u_j over the group."""
        lam = self.rate_per_ms
        d_out, u_out = [], []
        for group in groups:
            d_value = theta - lam
            u_value = 0.0
            for j in group:
                s, c = self.service_ms[j], self.scv[j]
                served = (
                    lam * self.share[j] * (math.exp(-theta * s) if c <= 0.0 else (1.0 + theta * s * c) ** (-1.0 / c))
                )
                switch = math.exp(-theta * self.switch_ms[j])
                u_value += served * switch
                if j == group[0]:
                    d_value += served * (1.0 - switch)
            d_out.append(d_value)
            u_out.append(u_value)
        return d_out, u_out

    def _idle_split(self) -> tuple[float, ...]:
        n, lam, idle_total = self.n, self.rate_per_ms, 1.0 - self.utilization
        # Classes with no switch overhead share D_j = theta - Lambda, and identical classes share
        # theirs; within such a group the idle share is proportional to p_j X_j*(Lambda) (exact for
        # the first kind, by symmetry for the second).
        weight = [p * _laplace(lam, s, c) for p, s, c in zip(self.share, self.service_ms, self.scv)]
        by_key: dict[tuple, list[int]] = {}
        for j in range(n):
            o = self.switch_ms[j]
            key = (0.0,) if o == 0.0 else (o, self.share[j], self.service_ms[j], self.scv[j])
            by_key.setdefault(key, []).append(j)
        groups = list(by_key.values())
        group_idle = [idle_total]
        if len(groups) > 1:
            poles = [self._pole(group) for group in groups]
            order = sorted(range(len(groups)), key=poles.__getitem__)
            merged: list[list[int]] = []
            merged_poles: list[float] = []
            for g in order:  # numerically coincident poles act as one group
                if merged and poles[g] - merged_poles[-1] <= POLE_MERGE_TOLERANCE * lam:
                    merged[-1] = merged[-1] + groups[g]
                else:
                    merged.append(groups[g])
                    merged_poles.append(poles[g])
            groups = merged
            if len(groups) > 1:
                rows = []
                for a, b in itertools.pairwise(merged_poles):
                    d, _ = self._group_terms(self._between(groups, a, b), groups)
                    rows.append([1.0 / x for x in d])
                rows.append([1.0] * len(groups))
                group_idle = _solve_small(rows, [0.0] * (len(groups) - 1) + [idle_total])
            else:
                group_idle = [idle_total]
        idle = [0.0] * n
        for group, total in zip(groups, group_idle):
            mass = sum(weight[j] for j in group)
            for j in group:
                idle[j] = min(max(total * weight[j] / mass, 0.0), self.share[j]) if mass > 0.0 else 0.0
        return tuple(idle)

    def _pole(self, group: list[int]) -> float:
        """The root of D_g in (0, Lambda] (D_g increases from D_g(0) = -Lambda to D_g(Lambda) >= 0)."""
        lam = self.rate_per_ms
        if self.switch_ms[group[0]] == 0.0:
            return lam

        def d(theta: float) -> float:
            return self._group_terms(theta, [group])[0][0]

        return _bracketed_root(d, 0.0, lam, -lam, d(lam), 1e-13 * lam)

    def _between(self, groups: list[list[int]], a: float, b: float) -> float:
        """The root of the transform denominator Delta = prod D + sum U_g prod_{k != g} D_k in (a, b)."""

        def delta(theta: float) -> float:
            d, u = self._group_terms(theta, groups)
            total = math.prod(d)
            for g in range(len(d)):
                rest = 1.0
                for k in range(len(d)):
                    if k != g:
                        rest *= d[k]
                total += u[g] * rest
            return total

        f_a, f_b = delta(a), delta(b)
        if (f_a > 0.0) == (f_b > 0.0):  # rounding at a pole: fall back to the midpoint
            return 0.5 * (a + b)
        return _bracketed_root(delta, a, b, f_a, f_b, 1e-13 * self.rate_per_ms)

    # --- the waiting-time tail ---------------------------------------------------------------

    @cached_property
    def decay_per_ms(self) -> float:
        """gamma: P(W > t) decays as exp(-gamma t) (the Cramér-Lundberg exponent of this queue)."""
        if not self.stable:
            return 0.0
        ceiling = math.inf  # the service moment generating functions exist below 1 / (s c)
        for s, c in zip(self.service_ms, self.scv):
            if c > 0.0:
                ceiling = min(ceiling, 1.0 / (s * c))

        def excess(g: float) -> float:
            if g >= ceiling:
                return math.inf
            lam, total = self.rate_per_ms, -1.0
            for p, s, c, o in zip(self.share, self.service_ms, self.scv, self.switch_ms):
                kappa = lam * _laplace(-g, s, c) / (lam + g)
                grow = math.exp(min(g * o, 700.0))
                total += p * kappa * grow / (1.0 + p * kappa * (grow - 1.0))
            return total

        guess = self.utilization / max(self.mean_wait_ms, 1e-9)
        guess = min(guess, 0.5 * ceiling)
        lo, hi = guess, guess
        f_lo = excess(lo)
        while f_lo >= 0.0 and lo > 1e-300:
            hi, lo = lo, 0.5 * lo
            f_lo = excess(lo)
        f_hi = excess(hi) if hi != lo else f_lo
        while f_hi <= 0.0:
            lo, f_lo = hi, f_hi
            hi = min(2.0 * hi, 0.5 * (hi + ceiling)) if ceiling < math.inf else 2.0 * hi
            f_hi = excess(hi)
        if math.isinf(f_hi):
            f_hi = 1.0  # past the pole: a positive sign is all the bracketing needs
        return _bracketed_root(excess, lo, hi, f_lo, f_hi, 1e-14 * hi)

    @cached_property
    def tail_constants(self) -> tuple[float, ...]:
        """C_j with P(W > t, L = j) ~ C_j exp(-gamma t) (residue of the transform at -gamma)."""
        if not self.stable:
            return tuple(math.inf for _ in range(self.n))
        g = self.decay_per_ms
        theta = -g
        lam = self.rate_per_ms
        slope, numerator, parts = 0.0, 0.0, []
        for j in range(self.n):
            p, s, c, o = self.share[j], self.service_ms[j], self.scv[j], self.switch_ms[j]
            served, served_slope = _laplace(theta, s, c), _laplace_slope(theta, s, c)
            switch = math.exp(-theta * o)
            d = theta - lam + lam * p * served * (1.0 - switch)
            u = lam * p * served * switch
            d_slope = 1.0 + lam * p * (served_slope * (1.0 - switch) + served * o * switch)
            u_slope = lam * p * switch * (served_slope - o * served)
            slope += (u_slope * d - u * d_slope) / (d * d)
            numerator += self.idle[j] / d
            parts.append((u, d))
        return tuple(max(u * numerator / (slope * d), 0.0) for u, d in parts)

    @cached_property
    def _capped(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The asymptote capped at P(L = m): min(p_m, C_m e^{-gamma t}) = p_m before y0_m, then C~_m e^{-gamma (t - y0_m)}."""
        g = self.decay_per_ms
        start = tuple(max(math.log(c / p) / g, 0.0) if c > p else 0.0 for c, p in zip(self.tail_constants, self.share))
        level = tuple(min(c, p) for c, p in zip(self.tail_constants, self.share))
        return start, level

    def offset_ms(self, i: int, previous: int) -> float:
        """Service plus switch of a class-i request whose predecessor was of class ``previous`` (mean service)."""
        return self.service_ms[i] + (self.switch_ms[i] if previous != i else 0.0)

    @cached_property
    def _offsets(self) -> tuple[list[list[float]], list[list[float]]]:
        """offset[a][b] = s_a + o_a 1[a != b], and the breakpoints offset[k][m] + y0_m of the capped asymptote."""
        n = self.n
        offset = [[self.offset_ms(a, b) for b in range(n)] for a in range(n)]
        start = self._capped[0]
        return offset, [[offset[k][m] + start[m] for m in range(n)] for k in range(n)]

    def tail(self, i: int, t: float) -> float:
        """Model probability that a class-i request's response time exceeds ``t`` ms (before the margin)."""
        if not self.stable:
            return 1.0
        key = (i, t)
        value = self._tails.get(key)
        if value is None:
            value = self._grid.tail(i, t) if any(c > 0.0 for c in self.scv) else self._closed_tail(i, t)
            if len(self._tails) < 4096:  # a solved queue is cached: keep its memo bounded
                self._tails[key] = value
        return value

    def _closed_tail(self, i: int, t: float) -> float:
        """Two Lindley steps on the capped asymptote, in closed form (deterministic service).

        With G0_m(y) = p_m before y0_m and C~_m e^{-gamma (y - y0_m)} after (the capped asymptote of
        P(W > y, L = m)), the response tail is F_j(u) = sum_m G_m(u - offset[j][m]) and the next
        arrival's wait is G'_j(y) = p_j E[F_j(y + A)], A ~ Exp(Lambda). Applied twice::

            P(R_i > t) = sum_j p_j [y < 0] + p_j [y >= 0] sum_k p_k (P(z + A < 0) + sum_m E[piece_km(z + A)])

        with y = t - offset[i][j], z = y - offset[j][k]. Piece km is h(x) = E[G0_m(x - offset[k][m] + A')]:
        C~_m kappa e^{-gamma (x - b)} past its breakpoint b = offset[k][m] + y0_m and
        p_m - (p_m - C~_m kappa) e^{-Lambda (b - x)} before it (kappa = Lambda / (Lambda + gamma));
        integrating over A exactly gives, with a0 = max(0, -z) and E = e^{-Lambda (b - z)} when
        b - z > a0: C~_m kappa^2 E + p_m (e^{-Lambda a0} - E) - (p_m - C~_m kappa) E Lambda (b - z - a0),
        and C~_m kappa^2 e^{-gamma (z - b) - (Lambda + gamma) a0} otherwise.
        """
        n, lam, g = self.n, self.rate_per_ms, self.decay_per_ms
        kappa = lam / (lam + g)
        p = self.share
        level = self._capped[1]
        offset, breaks = self._offsets
        exp = math.exp
        total = 0.0
        for j in range(n):
            y = t - offset[i][j]
            if y < 0.0:
                total += p[j]
                continue
            inner = 0.0
            for k in range(n):
                z = y - offset[j][k]
                if z < 0.0:
                    a0, e0 = -z, exp(lam * z)
                    part = 1.0 - e0
                else:
                    a0, e0 = 0.0, 1.0
                    part = 0.0
                row = breaks[k]
                for m in range(n):
                    b = row[m]
                    if b - z > a0:  # the piece's first segment (before its breakpoint) is reached
                        e1 = exp(-lam * (b - z))
                        part += level[m] * kappa * kappa * e1 + p[m] * (e0 - e1)
                        part -= (p[m] - level[m] * kappa) * e1 * lam * (b - z - a0)
                    elif z >= 0.0:
                        part += level[m] * kappa * kappa * exp(-g * (z - b))
                    else:
                        part += level[m] * kappa * kappa * e0
                inner += p[k] * part
            total += p[j] * inner
        return min(total, 1.0)

    @cached_property
    def _grid(self) -> _SwitchTailGrid:
        return _SwitchTailGrid(self)

    def within(self, i: int, q: float, budget_ms: float, margin: float = FCFS_TAIL_MARGIN) -> bool:
        """Is class i's q-quantile at most ``budget_ms``? (One tail evaluation; agrees with :meth:`quantile`.)"""
        return self.stable and self.tail(i, budget_ms) <= (1.0 - q) / margin

    def quantile(self, i: int, q: float, margin: float = FCFS_TAIL_MARGIN) -> float:
        """Smallest t with tail(i, t) <= (1 - q) / margin: the model v2 percentile of class i."""
        if not self.stable:
            return math.inf
        target = (1.0 - q) / margin
        if any(c > 0.0 for c in self.scv):
            return self._grid.quantile(i, target)
        lo = self.service_ms[i]
        if self._closed_tail(i, lo) <= target:
            return lo
        # the far tail follows the asymptote sum_j C~_j e^{-gamma (t - offset[i][j] - y0_j)}: start there
        g = self.decay_per_ms
        start, level = self._capped
        weight = sum(c * math.exp(g * (self.offset_ms(i, j) + start[j])) for j, c in enumerate(level))
        hi = max(lo, math.log(max(weight, 1e-300) / target) / g) if weight > 0.0 else 2.0 * lo
        while self._closed_tail(i, hi) > target:
            lo, hi = hi, 2.0 * hi
        for _ in range(100):  # bisection: the tail does not increase but jumps at the atoms s_i and s_i + o_i
            if hi - lo <= 1e-13 * hi:
                break
            mid = 0.5 * (lo + hi)
            if self._closed_tail(i, mid) > target:
                lo = mid
            else:
                hi = mid
        return hi


class _SwitchTailGrid:
    """The Lindley iteration on a grid, for gamma service (used when any class has SCV > 0).

    It starts from the same capped asymptote and iterates the exact step W' = (R - A)^+ until the
    response tails settle: a gamma service's body needs more than the two steps of the closed form
    (its asymptote is reached later). The discretisation is unbiased so that its error does not
    grow with the steps: service laws put each cell's mass at its centre, switch overheads and
    deterministic services are rounded to the nearest grid point, tails are linear between grid
    points under the exponential interarrival, and beyond the grid a tail decays at the
    asymptote's rate. The result is read one grid cell to the right (conservative by one cell).
    Computed once per queue.
    """

    POINTS = 1 << 12
    MAX_STEPS = 128
    SETTLED = 1e-3  # largest relative change of a tail value above FLOOR that counts as settled
    FLOOR = 1e-4

    def __init__(self, queue: SwitchQueue):
        from scipy import signal
        from scipy.stats import gamma as gamma_law

        n, lam, g = queue.n, queue.rate_per_ms, queue.decay_per_ms
        start, level = queue._capped
        longest = max(queue.offset_ms(i, j) for i in range(n) for j in range(n))
        upper = [
            float(gamma_law.ppf(1.0 - 1e-9, 1.0 / c, scale=s * c)) if c > 0.0 else s
            for s, c in zip(queue.service_ms, queue.scv)
        ]
        horizon = 2.0 * (max(upper) + max(queue.switch_ms)) + max(start) + math.log(1e6 * max(level) + 1.0) / g
        horizon = max(horizon, 2.0 * longest)
        step = horizon / self.POINTS
        size = self.POINTS + 1
        grid = np.arange(size) * step
        self.step, self.size = step, size
        share = np.array(queue.share)
        pmf = []
        for s, c in zip(queue.service_ms, queue.scv):
            law = np.zeros(size)
            if c > 0.0:
                cdf = gamma_law.cdf(np.append(grid + 0.5 * step, np.inf), 1.0 / c, scale=s * c)
                law[0] = cdf[0]
                law[1:] = np.diff(cdf)[:-1]
                law[-1] += 1.0 - cdf[-2]
            else:
                law[min(round(s / step), size - 1)] = 1.0
            pmf.append(law)
        shifts = [min(round(o / step), size - 1) for o in queue.switch_ms]
        # the capped asymptote P(W > y, L = m) on the grid
        wait = [
            np.where(grid < start[m], share[m], level[m] * np.exp(-g * np.maximum(grid - start[m], 0.0)))
            for m in range(n)
        ]
        decay = math.exp(-lam * step)
        slope = (1.0 - decay * (1.0 + lam * step)) / (lam * step)  # weight of a cell's linear part under E_A
        beyond = lam / (lam + g)  # E_A of a tail that decays at rate g past the grid, per unit of its last value
        fft_size = 1 << (2 * size - 1).bit_length()
        spectra = [np.fft.rfft(law, fft_size) for law in pmf]
        previous: list[np.ndarray] | None = None
        for _ in range(self.MAX_STEPS + 1):
            response = []
            for j in range(n):
                # sum over the previous class m of P(W > u - o_j 1[m != j] - X_j, L = m), W < 0 reading p_m
                mixed = np.zeros(size)
                for m in range(n):
                    shift = 0 if m == j else shifts[j]
                    piece = np.full(size, share[m])
                    piece[shift:] = wait[m][: size - shift]
                    mixed += piece
                # convolve with the service law; an argument below zero reads the full mass 1, so
                # F_j = 1 + pmf_j * (mixed - 1) with the convolution truncated to the grid
                conv = np.fft.irfft(np.fft.rfft(mixed - 1.0, fft_size) * spectra[j], fft_size)[:size]
                response.append(np.clip(conv + 1.0, 0.0, 1.0))
            if previous is not None and all(
                float(np.max(np.abs(a - b) / np.maximum(a, self.FLOOR))) < self.SETTLED
                for a, b in zip(response, previous)
            ):
                break
            previous = response
            # the next arrival's wait: W' = (R_j - A)^+ when the last arrival was of class j, i.e.
            # G_j(y) = p_j E[F_j(y + A)], integrated exactly over the linear pieces of F_j
            wait = []
            for j in range(n):
                f = response[j]
                cells = (1.0 - decay - slope) * f[:-1] + slope * f[1:]
                tail_start = [decay * beyond * f[-1]]
                smoothed = signal.lfilter([1.0], [1.0, -decay], cells[::-1], zi=tail_start)[0][::-1]
                wait.append(share[j] * np.append(smoothed, beyond * f[-1]))
        self.response = [np.minimum.accumulate(r) for r in response]

    def tail(self, i: int, t: float) -> float:
        """The tail at t, read one cell to the left: a discretised atom (a deterministic class's s or s + o
        rounded to the nearest point) can then never fall below where it truly lies."""
        k = math.floor(t / self.step) - 1
        if k < 0:
            return 1.0
        return float(self.response[i][min(k, self.size - 1)])

    def quantile(self, i: int, target: float) -> float:
        below = np.flatnonzero(self.response[i] <= target)
        if below.size == 0:
            return math.inf
        return float((below[0] + 1) * self.step)


@functools.lru_cache(maxsize=8192)
def solve_switch_queue(
    rates_rps: tuple[float, ...], service_ms: tuple[float, ...], scv: tuple[float, ...], switch_ms: tuple[float, ...]
) -> SwitchQueue:
    """The solved queue for these classes, cached: a greedy pass asks about the same mix many times."""
    return SwitchQueue(rates_rps, service_ms, scv, switch_ms)


def switch_queue(
    rates_rps: ArrayLike, service_ms: ArrayLike, service_scv: ArrayLike = 0.0, switch_ms: ArrayLike = 0.0
) -> SwitchQueue:
    """The FCFS-with-switch queue of one device (broadcasting scalars over the classes)."""
    lam, s, scv, o = np.broadcast_arrays(*_arrays(rates_rps, service_ms, service_scv, switch_ms))
    return solve_switch_queue(tuple(lam.tolist()), tuple(s.tolist()), tuple(scv.tolist()), tuple(o.tolist()))


def switch_wait_bounds(
    rates_rps: Sequence[float], service_ms: Sequence[float], scv: Sequence[float], switch_ms: Sequence[float]
) -> tuple[float, float, float]:
    """(utilisation, lower, upper) bounds on :class:`SwitchQueue`'s exact mean wait, in O(n).

    Its identity E[W] (1 - rho) = B + sum_j p_j o_j (p_j - pi_j), with
    B = Lambda E[S^2] / 2 - Lambda sum_j p_j^2 o_j s'_j, and 0 <= pi_j <= p_j give
    B / (1 - rho) <= E[W] <= (B + sum_j p_j^2 o_j) / (1 - rho). Removing every switch (same
    arrivals, same services) can only shorten waits, so Pollaczek-Khinchine without switch overhead
    is a lower bound too. The heuristics' probe decides most checks with these and solves the
    queue only in between. Infinite bounds when unstable.
    """
    n = len(rates_rps)
    total = float(sum(rates_rps))
    lam = total / MS_PER_S
    utilization = plain = second = plain_second = correction = spread = 0.0
    for r, s, c, o in zip(rates_rps, service_ms, scv, switch_ms):
        p = r / total
        b, o = (1.0 - p, o) if n > 1 else (0.0, 0.0)
        mean = s + b * o
        utilization += lam * p * mean
        plain += lam * p * s
        own = s * s * (1.0 + c)
        plain_second += p * own
        second += p * (own + 2.0 * b * o * s + b * o * o)
        correction += lam * p * p * o * mean
        spread += p * p * o
    if utilization >= 1.0:
        return utilization, math.inf, math.inf
    base = lam * second / 2.0 - correction
    lower = max(base / (1.0 - utilization), lam * plain_second / (2.0 * (1.0 - plain)), 0.0)
    return utilization, lower, max((base + spread) / (1.0 - utilization), lower)


@dataclass(frozen=True)
class FcfsMoments:
    """Effective service moments of a multi-class FCFS queue with switch overhead."""

    mean_service_ms: FloatArray  # E[S'_i], per class
    second_moment_ms2: FloatArray  # E[S'_i^2], per class
    switch_probability: FloatArray  # P(a class-i request pays the switch)
    utilization: float
    mean_wait_ms: float  # per ``switch_variance``; inf when unstable


SWITCH_VARIANCES = ("dependent", "bernoulli", "seed")


def fcfs_moments(
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
    *,
    switch_variance: str = "dependent",
) -> FcfsMoments:
    """Moments of an M/G/1 FCFS queue whose requests pay a switch when the model changes.

    A class-i request follows a request of another class with probability 1 - lambda_i / Lambda,
    so its effective service is S_i + B_i o_i with B_i ~ Bernoulli(1 - lambda_i / Lambda).
    ``switch_variance`` picks the mean wait: ``"dependent"`` (model v2, the evaluator's) is the
    exact wait of the queue (:class:`SwitchQueue`); ``"bernoulli"`` is Pollaczek-Khinchine with
    the Bernoulli mixture's exact second moment and ``"seed"`` the seed paper's (E[S'_i])^2. Both
    treat consecutive services as independent, which they are not (a request of a rare model
    switches in, the next usually switches back): they under-predict the wait by up to ~12-15% when
    one model dominates the device (docs/validation.md). They stay available for comparison.
    """
    lam, s, scv, o = np.broadcast_arrays(*_arrays(rates_rps, service_ms, service_scv, switch_ms))
    total = float(lam.sum())
    if total <= 0:
        raise ValueError("rates_rps must contain at least one positive rate")
    if switch_variance not in SWITCH_VARIANCES:
        raise ValueError(f"switch_variance must be one of {SWITCH_VARIANCES}, not {switch_variance!r}")
    share = lam / total
    switch_p = (1.0 - share) if lam.size > 1 else np.zeros_like(lam)
    mean = s + switch_p * o
    if switch_variance == "seed":
        second = mean * mean + s * s * scv
    else:
        second = s * s * (1.0 + scv) + 2.0 * switch_p * o * s + switch_p * o * o
    rate_per_ms = total / MS_PER_S
    utilization = float(rate_per_ms * np.dot(share, mean))
    if utilization >= 1.0:
        wait = np.inf
    elif switch_variance == "dependent" and np.all(lam > 0):
        wait = switch_queue(lam, s, scv, o).mean_wait_ms
    else:
        wait = float(rate_per_ms * np.dot(share, second) / (2.0 * (1.0 - utilization)))
    return FcfsMoments(mean, second, switch_p, utilization, wait)


def fcfs_latency(
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
    *,
    switch_variance: str = "dependent",
) -> QueueLatency:
    """Multi-class FCFS with switch overhead, mean response: R_i = s_i + (1 - p_i) o_i + E[W].

    The default is model v2's exact wait (see :func:`fcfs_moments` for the variants). With one
    class and deterministic service this is exactly M/D/1.
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
    """Exact idle split and (conditional) mean waits of the FCFS switch queue (:class:`SwitchQueue`)."""
    queue = switch_queue(rates_rps, service_ms, service_scv, switch_ms)
    return FcfsDependence(
        np.array(queue.idle),
        np.array(queue.conditional_wait_ms),
        queue.mean_wait_ms,
        queue.utilization,
    )


def fcfs_quantile(
    q: float,
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
    *,
    tail_margin: float = FCFS_TAIL_MARGIN,
) -> QueueLatency:
    """Model v2 q-quantile of per-class response time in the FCFS queue with switches.

    Read from :meth:`SwitchQueue.tail` at tail probability (1 - q) / ``tail_margin``.
    """
    _check_quantile(q)
    if tail_margin < 1.0:
        raise ValueError("tail_margin must be at least 1")
    queue = switch_queue(rates_rps, service_ms, service_scv, switch_ms)
    values = np.array([queue.quantile(i, q, tail_margin) for i in range(queue.n)])
    return QueueLatency(values, queue.utilization, queue.stable)


# --- multi-class processor sharing (time-sliced GPU) ------------------------------------------


def ps_latency(rates_rps: ArrayLike, service_ms: ArrayLike, *, variant: str = "exact") -> QueueLatency:
    """Multi-class M/G/1 processor sharing, mean response.

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


# Gauss-Legendre nodes and weights on [0, 1], for the PS tail's integral over a gamma request size.
_LEGENDRE_X, _LEGENDRE_W = np.polynomial.legendre.leggauss(8)
_NODES, _WEIGHTS = (_LEGENDRE_X + 1.0) / 2.0, _LEGENDRE_W / 2.0


def ps_tail(t: float, service_ms: float, scv: float, utilization: float, rate_per_ms: float | None = None) -> float:
    """Upper bound on P(R > t) for a PS request of mean size s (gamma, SCV c) at load rho.

    Two facts about a request of size x, bounded separately and the smaller taken:

    * **slowdown**: in the small-request limit it is slowed to x (1 + N), N the number of others it
      finds, and N is geometric (P(N >= k) = rho^k, insensitive to the service law); interpolated
      continuously, P(R > x (1 + u)) <= rho^u. Larger requests average their slowdown over the
      requests they overlap, so the bound holds for them with room (checked against simulation at
      utilisation 0.03-0.8 and SCV 0-2 in docs/validation.md);
    * **no overlap** (exact, when ``rate_per_ms`` Lambda is given): the request is never slowed iff
      it finds the device idle and nobody arrives during its x, so P(R > x) = 1 - (1 - rho) e^{-Lambda x}.
      This is what fixes very low loads, where "delay 0 with probability 1 - rho" was wrong.

    A gamma size is integrated out: P(R > t) = P(X >= t) + E[min(b(X), rho^(t / X - 1)); X < t]
    (composite Gauss-Legendre, panels no wider than a quarter of the size's standard deviation, at
    most 64).
    """
    if t <= 0.0:
        return 1.0
    if scv <= 0.0:
        if t < service_ms:
            return 1.0
        value = 0.0 if utilization <= 0.0 else math.exp(math.log(utilization) * (t / service_ms - 1.0))
        return min(value, _overlap(service_ms, utilization, rate_per_ms))
    survival = _gamma_survival(t, service_ms, scv)
    if utilization <= 0.0:
        return survival
    x, weight = _gamma_quadrature(t, service_ms, scv)
    slowed = np.exp(math.log(utilization) * (t / x - 1.0))
    if rate_per_ms is not None:
        slowed = np.minimum(slowed, 1.0 - (1.0 - utilization) * np.exp(-rate_per_ms * x))
    return min(survival + float(np.dot(weight, slowed)), 1.0)


def _gamma_quadrature(t: float, service_ms: float, scv: float) -> tuple[FloatArray, FloatArray]:
    """Nodes on (0, t) and weights times the gamma density there: E[f(X); X < t] = sum(weight * f(x))."""
    shape, scale = 1.0 / scv, service_ms * scv
    width = min(t, max(0.25 * service_ms * math.sqrt(scv), t / 64.0))
    panels = math.ceil(t / width - 1e-9)
    edges = np.linspace(0.0, t, panels + 1)
    lengths = np.diff(edges)[:, None]
    x = (edges[:-1, None] + lengths * _NODES[None, :]).ravel()
    w = (lengths * _WEIGHTS[None, :]).ravel()
    log_density = (shape - 1.0) * np.log(x) - x / scale - (math.lgamma(shape) + shape * math.log(scale))
    return x, w * np.exp(log_density)


def _overlap(size_ms: float, utilization: float, rate_per_ms: float | None) -> float:
    """P(a PS request of this size ever shares the device) = 1 - (1 - rho) e^{-Lambda x}; 1 when Lambda is unknown."""
    if rate_per_ms is None:
        return 1.0
    return 1.0 - (1.0 - utilization) * math.exp(-rate_per_ms * size_ms)


def _gamma_survival(t: float, service_ms: float, scv: float) -> float:
    from scipy.special import gammaincc

    return float(gammaincc(1.0 / scv, t / (service_ms * scv)))


def ps_request_quantile(
    q: float, service_ms: float, scv: float, utilization: float, rate_per_ms: float | None = None
) -> float:
    """The q-quantile of :func:`ps_tail`; deterministic size: s when the request overlaps nobody with
    probability at least q, else s (1 + ln(1 - q) / ln rho)."""
    if utilization >= 1.0:
        return math.inf
    if scv <= 0.0:
        if utilization <= 0.0 or _overlap(service_ms, utilization, rate_per_ms) <= 1.0 - q:
            return service_ms
        return service_ms * (1.0 + math.log(1.0 - q) / math.log(utilization))
    target = 1.0 - q
    lo, hi = 0.0, service_ms * (1.0 + max(scv, 1.0) * 4.0)
    while ps_tail(hi, service_ms, scv, utilization, rate_per_ms) > target:
        lo, hi = hi, 2.0 * hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if ps_tail(mid, service_ms, scv, utilization, rate_per_ms) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return hi


def ps_within(
    q: float, budget_ms: float, service_ms: float, scv: float, utilization: float, rate_per_ms: float | None = None
) -> bool:
    """Is the PS q-quantile of :func:`ps_request_quantile` at most ``budget_ms``? (One tail evaluation.)"""
    if utilization >= 1.0:
        return False
    if scv <= 0.0:
        return ps_request_quantile(q, service_ms, 0.0, utilization, rate_per_ms) <= budget_ms
    return ps_tail(budget_ms, service_ms, scv, utilization, rate_per_ms) <= 1.0 - q


def ps_quantile(
    q: float, rates_rps: ArrayLike, service_ms: ArrayLike, service_scv: ArrayLike = 0.0, *, variant: str = "exact"
) -> QueueLatency:
    """Model v2 q-quantile of per-class response time in an M/G/1-PS queue (:func:`ps_tail`).

    It depends on the utilisation, the total rate and the class's own size law, whatever
    ``variant`` the mean uses (``variant`` is checked for consistency with :func:`ps_latency`).
    """
    _check_quantile(q)
    mean = ps_latency(rates_rps, service_ms, variant=variant)
    if not mean.stable:
        return mean
    lam, s, scv = np.broadcast_arrays(*_arrays(rates_rps, service_ms, service_scv))
    total = float(lam.sum()) / MS_PER_S
    values = np.array([ps_request_quantile(q, float(x), float(c), mean.utilization, total) for x, c in zip(s, scv)])
    return QueueLatency(values, mean.utilization, True)


def _largest_feasible_utilization(feasible, cap: float) -> float:
    """Largest utilisation in [0, cap] where ``feasible`` (monotone: true below a threshold) holds, rounded down.

    -inf when even an idle device fails. Bisection to 1e-12, keeping the feasible side.
    """
    if feasible(cap):
        return cap
    lo, hi = 0.0, cap
    if not feasible(1e-12 * cap):
        return -math.inf
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if feasible(mid):
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12:
            break
    return lo


def ps_utilization_threshold(
    q: float, budget_ms: float, service_ms: float, scv: float = 0.0, cap: float = 1.0, *, relaxed: bool = False
) -> float:
    """Utilisation threshold of a PS class's v2 q-quantile against ``budget_ms``, for a formulation.

    The v2 percentile also depends on the total rate (through the no-overlap probability), which
    a set's utilisation does not fix, so a formulation gets two thresholds that bracket it:

    * conservative (default): the slowdown bound alone (no-overlap cap ignored), which only raises
      the percentile: s (1 + ln(1 - q) / ln rho) <= B  <=>  rho <= (1 - q)^(1 / (B / s - 1));
    * ``relaxed``: the overlap probability is at least rho, so P(R > x (1 + u)) >= rho^max(u, 1) under
      the model; every rho <= 1 - q then admits B = s, and above it the slowdown threshold applies.
    """
    if budget_ms < service_ms * (1.0 - 1e-15):
        return -math.inf
    if scv <= 0.0:
        ratio = budget_ms / service_ms - 1.0
        strict = min(cap, (1.0 - q) ** (1.0 / ratio)) if ratio > 0.0 else 0.0
        return min(cap, max(strict, 1.0 - q)) if relaxed else strict

    def feasible(rho: float) -> bool:
        if relaxed:  # the smallest the model's tail can be at this utilisation
            return _relaxed_gamma_tail(budget_ms, service_ms, scv, rho) <= 1.0 - q
        return ps_tail(budget_ms, service_ms, scv, rho) <= 1.0 - q

    return _largest_feasible_utilization(feasible, cap)


def _relaxed_gamma_tail(t: float, service_ms: float, scv: float, utilization: float) -> float:
    """E over a gamma size X of min(rho, rho^(t / X - 1)) for X < t, plus P(X >= t): below :func:`ps_tail` for any rate."""
    x, weight = _gamma_quadrature(t, service_ms, scv)
    slowed = np.minimum(np.exp(math.log(max(utilization, 1e-300)) * (t / x - 1.0)), utilization)
    return min(_gamma_survival(t, service_ms, scv) + float(np.dot(weight, slowed)), 1.0)


@functools.lru_cache(maxsize=4096)
def _single_class_threshold(q: float, relative_budget: float, scv: float, cap: float) -> float:
    def feasible(rho: float) -> bool:
        return SwitchQueue((rho * MS_PER_S,), (1.0,), (scv,), (0.0,)).within(0, q, relative_budget)

    return _largest_feasible_utilization(feasible, cap)


def fcfs_utilization_threshold(
    q: float, budget_ms: float, service_ms: float, scv: float = 0.0, cap: float = 1.0
) -> float:
    """Largest utilisation of a one-class FCFS device (M/G/1) at which its v2 q-quantile stays within ``budget_ms``.

    Times scale with the service time, so the threshold depends on B / s, the SCV and q only (cached).
    The queue's quantile grows with the load; the model's is checked to in tests/test_latency.py.
    """
    if budget_ms < service_ms * (1.0 - 1e-15):
        return -math.inf
    return _single_class_threshold(q, budget_ms / service_ms, scv, cap)


# --- front-end pre-processing and end to end --------------------------------------------------


def frontend_latency(rates_rps: ArrayLike, preprocess_ms: ArrayLike, cores: float = 1.0) -> QueueLatency:
    """CPU pre-processing on a node as one PS stage of capacity ``cores`` (the pooled formula).

    rho = sum(lambda_j s_j) / cores and R_j = s_j / (1 - rho). With one core this is exact; with
    more it is an upper bound on the exact c-core stage (:func:`multicore_ps_latency`: a request
    never uses more than one core), so the evaluator keeps it: conservative, and the same on
    every code path. Below one core it would be optimistic; the domain model requires >= 1.
    """
    if cores <= 0:
        raise ValueError("cores must be positive")
    lam, s = np.broadcast_arrays(*_arrays(rates_rps, preprocess_ms))
    utilization = float(np.dot(lam, s) / MS_PER_S / cores)
    if utilization >= 1.0:
        return QueueLatency(np.where(s > 0, np.inf, 0.0), utilization, False)
    return QueueLatency(s / (1.0 - utilization), utilization, True)


def frontend_quantile(q: float, rates_rps: ArrayLike, preprocess_ms: ArrayLike, cores: float = 1.0) -> QueueLatency:
    """q-quantile of the pooled front-end stage: the PS bound of :func:`ps_tail` at its utilisation."""
    _check_quantile(q)
    mean = frontend_latency(rates_rps, preprocess_ms, cores)
    if not mean.stable:
        return mean
    (s,) = _arrays(preprocess_ms)
    s = np.broadcast_to(s, mean.latency_ms.shape)
    values = np.array([ps_request_quantile(q, float(x), 0.0, mean.utilization) if x > 0 else 0.0 for x in s])
    return QueueLatency(values, mean.utilization, True)


def frontend_request_ms(preprocess_ms: float, utilization: float, q: float | None) -> float:
    """One request's pooled front-end latency at node utilisation ``utilization``: the mean or the q-quantile."""
    if preprocess_ms <= 0.0:
        return 0.0
    if utilization >= 1.0:
        return math.inf
    if q is None:
        return preprocess_ms / (1.0 - utilization)
    return ps_request_quantile(q, preprocess_ms, 0.0, utilization)


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
    utilisation 0.8) and higher for cores < 1, where the pooled formula is optimistic. Available
    for analysis and validation; the evaluator uses the pooled formula (docs/validation.md).
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

    The slowdown D_i gets an exponential tail with the exact mean E[D_i] = R_i - s_i / min(1, cores)
    and, as its busy probability, the probability that an arriving request finds every core taken
    (it then shares); the tail probability is read at (1 - q) / ``tail_margin``, a safety factor
    for quantiles near the edge of the busy mass. docs/validation.md compares it with simulation.
    """
    _check_quantile(q)
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
    delay = _exponential_tail_quantile(np.maximum(mean.latency_ms - alone, 0.0), slowed, q)
    return QueueLatency(alone + delay, mean.utilization, True)


def end_to_end_ms(frontend_ms: ArrayLike, network_ms: float, accelerator_ms: ArrayLike) -> FloatArray:
    """R_e2e = R_pre + network + R_accelerator.

    For percentiles the same sum of per-stage quantiles is used: an upper bound for the
    positively skewed, independent stages met here (checked against simulation).
    """
    pre, acc = np.broadcast_arrays(*_arrays(frontend_ms, accelerator_ms))
    return pre + network_ms + acc


def end_to_end_one_ms(frontend_ms: float, network_ms: float, accelerator_ms: float) -> float:
    """:func:`end_to_end_ms` for one request class (the evaluator's and the probe's scalar path)."""
    return float(frontend_ms) + float(network_ms) + float(accelerator_ms)


# --- model v1 tails (kept to compare against; no part of the evaluator's model) ---------------


def _exponential_tail_quantile(mean_delay_ms: FloatArray, busy: float, q: float) -> FloatArray:
    """Quantile of a delay that is 0 w.p. 1 - busy and else exponential with the right mean.

    P(D > t) = busy * exp(-busy t / E[D]) (the classic exponential waiting-time approximation,
    exact for M/M/1 FCFS waiting times).
    """
    if busy <= 0 or q <= 1.0 - busy:
        return np.zeros_like(mean_delay_ms)
    return mean_delay_ms / busy * np.log(busy / (1.0 - q))


def exponential_tail_factor(rho: float, q: float) -> float:
    """max(0, ln(rho / (1 - q))) / (1 - rho): the v1 exponential tail of a delay with mean rho / (1 - rho) and
    busy probability rho (inf at rho >= 1); the v1 PS quantile is s (1 + this)."""
    if rho >= 1.0:
        return math.inf
    return float(_exponential_tail_quantile(np.array([rho / (1.0 - rho)]), rho, q)[0])


def gamma_quantile_excess(q: ArrayLike, service_ms: ArrayLike, scv: ArrayLike) -> FloatArray:
    """The q-quantile minus the mean of a gamma service time (0 where deterministic or ``q`` is NaN)."""
    q, s, c = np.broadcast_arrays(*_arrays(q, service_ms, scv))
    out = np.zeros(s.shape)
    rows = ~np.isnan(q) & (c > 0)
    if rows.any():
        from scipy.stats import gamma

        out[rows] = np.maximum(gamma.ppf(q[rows], 1.0 / c[rows], scale=s[rows] * c[rows]) - s[rows], 0.0)
    return out


def fcfs_quantile_v1(
    q: float,
    rates_rps: ArrayLike,
    service_ms: ArrayLike,
    service_scv: ArrayLike = 0.0,
    switch_ms: ArrayLike = 0.0,
) -> QueueLatency:
    """Model v1's FCFS quantile: Bernoulli switch plus an exponential waiting-time tail (P-K mean).

    Optimistic by up to 30% at p99 when one model dominates the device (docs/validation.md).
    """
    _check_quantile(q)
    m = fcfs_moments(rates_rps, service_ms, service_scv, switch_ms, switch_variance="bernoulli")
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
    return QueueLatency(s + hi + gamma_quantile_excess(q, s, scv), rho, True)


def ps_quantile_v1(q: float, rates_rps: ArrayLike, service_ms: ArrayLike) -> QueueLatency:
    """Model v1's PS quantile: s + an exponential slowdown tail with atom 1 - rho at zero.

    Ignores service variability and under-predicts at very low load (docs/validation.md).
    """
    _check_quantile(q)
    mean = ps_latency(rates_rps, service_ms)
    (s,) = _arrays(service_ms)
    s = np.broadcast_to(s, mean.latency_ms.shape)
    if not mean.stable:
        return mean
    return QueueLatency(
        s + _exponential_tail_quantile(mean.latency_ms - s, mean.utilization, q), mean.utilization, True
    )


# --- model sharing and the discipline dispatch ------------------------------------------------


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
    switch_variance: str = "dependent",
) -> QueueLatency:
    """Per-class latency of one accelerator in its discipline: the mean (``q`` None) or the q-quantile.

    ``"ps"`` uses the PS model named by ``ps_model`` for the mean; ``"fcfs"`` and ``"dedicated"`` (a
    one-backend FCFS queue) use the FCFS-with-switch queue, its mean wait as ``switch_variance``
    says (:func:`fcfs_moments`); its percentiles always come from the exact queue.
    """
    if discipline == "ps":
        if q is None:
            return ps_latency(rates_rps, service_ms, variant=ps_model)
        return ps_quantile(q, rates_rps, service_ms, service_scv, variant=ps_model)
    if q is None:
        return fcfs_latency(rates_rps, service_ms, service_scv, switch_ms, switch_variance=switch_variance)
    return fcfs_quantile(q, rates_rps, service_ms, service_scv, switch_ms)


def frontend_occupancy_limit_ms(rate_rps: float, concurrency: int | None, cap: float) -> float:
    """Largest mean end-to-end latency a synchronous front end with ``concurrency`` outstanding requests carries.

    By Little's law an application's mean number of requests in flight is rate x mean response
    time; a front end that keeps at most k requests outstanding can sustain rate x R <= cap x k
    (the seed uses cap = 0.8, k = 1), i.e. R <= 1000 cap k / rate ms. Infinite without a limit
    (``concurrency`` None: an asynchronous front end).
    """
    if concurrency is None:
        return math.inf
    return MS_PER_S * cap * concurrency / rate_rps
