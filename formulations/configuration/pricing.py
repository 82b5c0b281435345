"""Pricing for the configuration master: which set of applications should one accelerator class host?

The feasible sets of a class are covered by a union of *scenarios*, each a small 0-1 knapsack with a
few linear rows plus backend memory and the dedicated rule (``model.md`` derives them):

* utilisation row    ``sum w_j <= rho_cap``;
* SLO row of the tightest member k: ``alpha_k sum w_j + beta_k sum v_j <= 1`` (PS: ``rho <= rho*_k``;
  FCFS: ``rho + V / (2 tau_k) <= 1`` with ``V = sum lambda_j E[S_j^2]``);
* front-end row      ``sum lambda_j pre_j / 1000 <= level * cores`` (only with pre-processing).

For mean SLOs on PS and on FCFS without switch overhead (and without pre-processing) the scenarios
are exact: a set satisfies the rows of its tightest member if and only if it meets every SLO. Switch
overhead (an interval for the request share of the dominant model bounds every backend's switch
probability from below),
the front-end stage and FCFS percentiles (load levels) make them relaxations: every feasible set
satisfies some scenario, so the pricing value is an upper bound and the Lagrangian bound stays valid.
Every set that becomes a column is checked exactly by :class:`SetChecker`, and repaired (items
dropped) when a relaxed scenario let an infeasible one through.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from optplace import latency
from optplace.cocompilation import SwitchOption
from optplace.domain import Discipline
from optplace.formulations.configuration.build import AcceleratorClass
from optplace.formulations.configuration.knapsack_dp import plain_knapsack

EPS = 1e-9
RELAX = 2e-9  # scenario capacities are widened by this relative amount: the evaluator accepts 1e-9 over a limit
CHECK = 1e-10  # columns must meet every limit within this relative margin (tighter than the evaluator)
HEURISTIC_NODES = 200  # branch-and-bound nodes per subproblem in a heuristic pricing round
HEURISTIC_SCENARIOS = 4  # scenarios expanded per class in a heuristic pricing round
FINAL_TOL = 1e-9  # slack of the share row (rates are in requests per second)
SHARE_GRID = (0.25, 1 / 3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # dominant-share intervals (switch relaxation)


@dataclass
class Scenario:
    """One linear relaxation piece of a class's feasible sets (arrays over class-local items).

    Static rows (``rows``/``caps``) hold for every set of the scenario: utilisation, front-end load,
    and, when ``combo`` prepays a set of backends, the node's front-end memory. The SLO row depends
    on the tightest member k: ``alpha[k] * rho + beta[k] * V <= 1``.
    """

    label: str
    order: np.ndarray  # items allowed in this scenario, tightest member first
    w: np.ndarray  # utilisation lower bound per item
    v: np.ndarray  # lambda * E[S^2] / 1000 lower bound per item (ms), FCFS only
    alpha: np.ndarray  # member condition alpha * rho + beta * V <= 1
    beta: np.ndarray
    rows: list[np.ndarray]  # static rows: weights per item ...
    caps: list[float]  # ... and capacities
    dominant_model: int | None  # model assumed to carry the largest request share (switch relaxation)
    combo: tuple[int, ...] | None  # backends opened up front (memory paid), or None
    exact: bool
    member: np.ndarray | None = None  # boolean mask of ``order`` over all items
    final: np.ndarray | None = None  # a row sum(final) <= 0 checked on complete sets only (negative weights)
    slo_w: np.ndarray | None = None  # the SLO row's utilisation weights, when they differ from ``w``
    slo_v: np.ndarray | None = None  # ... and its second-moment weights, when they differ from ``v``

    def slo_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(utilisation, second-moment) weights of the SLO row alpha rho + beta V <= 1."""
        return (self.w if self.slo_w is None else self.slo_w, self.v if self.slo_v is None else self.slo_v)


@dataclass
class Subproblem:
    """A scenario with its tightest member fixed (``forced``), or a merged tail without one."""

    scenario: Scenario
    forced: int | None
    candidates: np.ndarray  # items that may join, besides ``forced``
    slo_row: bool  # the forced member's SLO row applies (else it is implied by the static rows)
    bound: float  # fractional upper bound on the profit (prepaid backend costs already subtracted)

    def rows(self) -> tuple[list[np.ndarray], list[float]]:
        sc = self.scenario
        rows, caps = list(sc.rows), list(sc.caps)
        if self.slo_row and self.forced is not None:
            k = self.forced
            w, v = sc.slo_weights()
            rows.append(sc.alpha[k] * w + sc.beta[k] * v)
            caps.append(1.0 + RELAX)
        return rows, caps


@dataclass
class PricingResult:
    best: float  # max profit of a (relaxed-)feasible nonempty set, -inf if none beats the floor
    columns: list[tuple[float, tuple[int, ...]]]  # (profit, items) candidates, best first
    subproblems: int
    explored: int
    nodes: int
    complete: bool = True  # the search finished: ``best`` is the exact maximum (a bound for relaxed scenarios)
    cells: int = 0  # dynamic-programming table cells (plain knapsacks, ``knapsack_dp``)
    dp_items: int = 0  # items the dynamic programs went through


@dataclass
class ExactPricing:
    """:meth:`Pricer.price_exactly`: a bound on the class's maximum, exactly feasible sets, best first."""

    best: float  # the exact maximum over the class's feasible sets (-inf: none above the floor)
    columns: list[tuple[float, tuple[int, ...]]]
    exact: bool
    enumerated: int  # exact checks the search made
    nodes: int = 0  # branch-and-bound nodes


def _best_first(values: dict[tuple[int, ...], float]) -> list[tuple[float, tuple[int, ...]]]:
    return sorted(((v, k) for k, v in values.items()), key=lambda item: -item[0])


# --- exact feasibility of a set on one accelerator --------------------------------------------


class SetChecker:
    """Exact check of a set on one accelerator of the class (alone on its node), memoised.

    Uses the analytic latency functions of :mod:`optplace.latency` with a margin tighter than the
    evaluator's, so a column accepted here is accepted by :func:`optplace.evaluate.evaluate`.
    """

    def __init__(self, cls: AcceleratorClass):
        self.cls = cls
        self.memo: dict[tuple[int, ...], bool] = {}
        self.checks = 0

    def feasible(self, items: tuple[int, ...]) -> bool:
        key = tuple(sorted(items))
        hit = self.memo.get(key)
        if hit is None:
            self.checks += 1
            hit = self.memo[key] = self._check(key) if key else True
        return hit

    def _check(self, items: tuple[int, ...]) -> bool:
        c = self.cls
        index = np.array(items, dtype=np.intp)
        groups, class_of = np.unique(c.group[index], return_inverse=True)
        if c.discipline == Discipline.DEDICATED and len(groups) > 1:
            return False
        if c.max_backends is not None and len(groups) > c.max_backends:
            return False
        backend_mb = float(c.group_memory_mb[groups].sum())
        node_mb = float(c.frontend_memory_mb[index].sum())
        if c.device_memory_limit_mb is not None:
            if not _fits(backend_mb, c.device_memory_limit_mb):
                return False
        else:
            node_mb += backend_mb
        if not _fits(node_mb, c.node_memory_limit_mb):
            return False
        quantiles = c.quantile[index]
        # the front end (the pooled PS stage of the evaluator): each item's latency in its SLO's statistic, and the mean
        pre = np.zeros(len(index))
        pre_mean = np.zeros(len(index))
        busy = c.preprocess_ms[index] > 0
        if busy.any():
            b_rates, b_pre = c.rate_rps[index][busy], c.preprocess_ms[index][busy]
            b_q = quantiles[busy]
            stage = latency.frontend_latency(b_rates, b_pre, c.preprocess_cores)
            if not stage.stable:
                return False
            values = np.array(stage.latency_ms, dtype=float)
            pre_mean[busy] = values
            for q in {float(x) for x in b_q if not math.isnan(x)}:
                rows = b_q == q
                values[rows] = latency.frontend_quantile(q, b_rates, b_pre, c.preprocess_cores).latency_ms[rows]
            pre[busy] = values
        rates = np.zeros(len(groups))
        np.add.at(rates, class_of, c.rate_rps[index])
        first = np.zeros(len(groups), dtype=np.intp)
        first[class_of[::-1]] = index[::-1]  # any member: profiles are per model
        switch = c.switch_ms[first]
        options = [SwitchOption(None, tuple(switch.tolist()))]
        if c.discipline == Discipline.FCFS and c.compilations is not None and len(groups) > 1:
            models = [c.model_names[int(m)] for m in c.model_group[first]]
            options = c.compilations.options(c.type_name, models, switch.tolist())
        # the set is feasible when the device meets every limit under one of its options (optplace.cocompilation)
        return any(self._meets(index, rates, first, class_of, np.array(o.switch_ms), pre, pre_mean) for o in options)

    def _meets(self, index, rates, first, class_of, switch, pre, pre_mean) -> bool:
        c = self.cls
        service, scv = c.service_ms[first], c.scv[first]
        quantiles = c.quantile[index]
        occupancy = c.occupancy_ms[index]
        limited = np.isfinite(occupancy)
        statistics = {None if math.isnan(x) else float(x) for x in quantiles} | ({None} if limited.any() else set())
        if c.discipline == Discipline.FCFS and not self._may_meet(index, rates, service, scv, switch, class_of, pre):
            return False
        acc_latency = np.empty(len(index))
        acc_mean = np.empty(len(index))
        for q in statistics:
            result = latency.accelerator_latency(
                c.discipline,
                q,
                rates,
                service,
                scv,
                switch,
                ps_model=c.ps_variant,
                switch_variance=c.switch_variance,
            )
            if not result.stable or not _fits(result.utilization, c.utilization_cap):
                return False
            rows = np.isnan(quantiles) if q is None else quantiles == q
            acc_latency[rows] = result.latency_ms[class_of[rows]]
            if q is None:
                acc_mean[:] = result.latency_ms[class_of]
        total = pre + c.network_ms + acc_latency
        if not (np.all(np.isfinite(total)) and np.all(total <= c.slo_ms[index] * (1.0 + CHECK))):
            return False
        if limited.any():
            mean_total = pre_mean[limited] + c.network_ms + acc_mean[limited]
            return bool(np.all(mean_total <= occupancy[limited] * (1.0 + CHECK)))
        return True

    def _may_meet(self, index, rates, service, scv, switch, class_of, pre) -> bool:
        """Necessary conditions of an FCFS set, without solving the switch queue (milliseconds saved
        per rejected candidate: the reduced-cost enumeration checks thousands).

        The utilisation is the queue's own (``latency.fcfs_moments``: the same in every switch
        variant); a mean-SLO member's response is at least its service, its own switch and the
        Pollaczek-Khinchine wait *without* switch overhead, which is below the wait of every
        variant (same arrivals and services, no switch time: every wait shrinks)."""
        c = self.cls
        total = float(rates.sum())
        switch_p = 1.0 - rates / total if len(rates) > 1 else np.zeros(len(rates))
        utilization = float(np.dot(rates, service + switch_p * switch)) / 1000.0
        if not _fits(utilization, c.utilization_cap):
            return False
        rho0 = float(np.dot(rates, service)) / 1000.0
        if rho0 >= 1.0:
            return False
        wait0 = float(np.dot(rates, service * service * (1.0 + scv))) / 1000.0 / (2.0 * (1.0 - rho0))
        mean = np.isnan(c.quantile[index])
        if not mean.any():
            return True
        own = service[class_of] + switch_p[class_of] * switch[class_of]
        least = pre + c.network_ms + own + wait0
        return bool(np.all(least[mean] <= c.slo_ms[index][mean] * (1.0 + CHECK)))


def _fits(value: float, limit: float) -> bool:
    return value <= limit * (1.0 + CHECK)


def _frontend_lower(pre: np.ndarray, quantile: np.ndarray, load: float) -> np.ndarray:
    """Front-end latency of each item at utilisation ``load`` (the least it can be at or above that load)."""
    return np.array(
        [
            latency.frontend_request_ms(float(x), load, None if math.isnan(qq) else float(qq))
            for x, qq in zip(pre, quantile)
        ]
    )


def _combos(cls: AcceleratorClass, max_groups: int, max_combos: int) -> list[tuple[int, ...]] | None:
    """Every memory-feasible set of backends, when memory lets only a few share the accelerator.

    Returns None when memory is not that tight (the branch and bound then tracks backends itself).
    A dedicated accelerator always gets its single backends.
    """
    c = cls
    gmem = c.group_memory_mb
    count = len(gmem)
    min_fmem = np.full(count, np.inf)
    np.minimum.at(min_fmem, c.group, c.frontend_memory_mb)
    on_node = c.backend_memory_on_node
    node_need = min_fmem + (gmem if on_node else 0.0)
    node_cap = c.node_memory_limit_mb * (1.0 + RELAX)
    dev_cap = (c.device_memory_limit_mb or 0.0) * (1.0 + RELAX)
    if c.discipline == Discipline.DEDICATED:
        return [(g,) for g in range(count) if node_need[g] <= node_cap and (on_node or gmem[g] <= dev_cap)]
    need = np.sort(node_need)
    fit = int(np.searchsorted(np.cumsum(need), node_cap, side="right"))
    if not on_node:
        fit = min(fit, int(np.searchsorted(np.cumsum(np.sort(gmem)), dev_cap, side="right")))
    if fit > max_groups or fit >= count:
        return None
    out: list[tuple[int, ...]] = []
    order = np.argsort(node_need).tolist()

    def grow(start: int, chosen: list[int], node_used: float, dev_used: float) -> bool:
        for pos in range(start, count):
            g = order[pos]
            if node_used + node_need[g] > node_cap or (not on_node and dev_used + gmem[g] > dev_cap):
                continue
            chosen.append(g)
            out.append(tuple(sorted(chosen)))
            if len(out) > max_combos:
                return False
            if not grow(pos + 1, chosen, node_used + node_need[g], dev_used + (0.0 if on_node else gmem[g])):
                return False
            chosen.pop()
        return True

    return out if grow(0, [], 0.0, 0.0) else None


def build_scenarios(
    cls: AcceleratorClass,
    frontend_levels: int = 4,
    combo_groups: int = 4,
    max_combos: int = 400,
    *,
    union: bool = False,
) -> list[Scenario]:
    """Cover the class's feasible sets by linear scenarios (see the module docstring).

    ``union``: one switch layer for every set (switch probabilities bounded below by 0) instead of
    one per dominant model and share: weaker rows, but a search that meets each set once."""
    c = cls
    # the least switch overhead under any co-compilation option: every scenario stays a relaxation
    lam, s, m2, o = c.rate_rps, c.service_ms, c.second_moment_ms2, c.switch_least_ms
    q = c.quantile
    fcfs = c.discipline in (Discipline.FCFS, Discipline.DEDICATED)
    switching = c.discipline == Discipline.FCFS and bool(np.any(o > 0))
    pre = c.preprocess_ms
    pre_load = lam * pre / 1000.0  # cores
    has_pre = bool(np.any(pre > 0))
    cap = c.utilization_cap
    w0 = lam * s / 1000.0

    if has_pre:
        # The most front-end load a set can carry while meeting the utilisation cap (fractional bound).
        top = float(_fractional(pre_load, w0, np.ones((1, len(w0)), dtype=bool), np.array([cap * (1.0 + RELAX)]))[0])
        top = min(1.0, top / c.preprocess_cores)
        grid = [top * k / frontend_levels for k in range(frontend_levels + 1)]
        pre_intervals: list[tuple[float, float | None]] = [(grid[k], grid[k + 1]) for k in range(frontend_levels)]
    else:
        pre_intervals = [(0.0, None)]
    # Switch overhead: p_b = 1 - lambda_b / Lambda. If the dominant model d carries a share in [g, h] of
    # the requests, its backends switch with probability >= 1 - h and every other backend (share at
    # most min(h, 1 - g)) with >= 1 - min(h, 1 - g). "Balanced" sets (every share <= 1/4) get >= 3/4.
    share_layers: list[tuple[int | None, float, float]] = [(None, 0.0, 1.0)]
    if switching and not union:
        models = range(int(c.model_group.max()) + 1)
        share_layers = [(None, 0.0, SHARE_GRID[0])]
        share_layers += [(d, lo, hi) for d in models for lo, hi in itertools.pairwise(SHARE_GRID)]
    # A percentile of an FCFS member is at least its own service time's percentile (X <= R).
    service_quantile = s + latency.gamma_quantile_excess(q, s, c.scv)
    s_min = float(s.min())
    exact_base = not has_pre and not switching and (not fcfs or bool(np.all(np.isnan(q))))
    exact_base = exact_base and (fcfs or c.ps_variant == "exact")
    # what the scenarios leave to the exact check (model.md, "What a relaxation must allow"): switches compiled
    # apart, a front-end occupancy limit, max_backends; with any of them a scenario is only a relaxation
    exact_base = exact_base and not (c.discipline == Discipline.FCFS and bool(np.any(c.switch_ms > 0)))
    exact_base = exact_base and not bool(np.isfinite(c.occupancy_ms).any()) and c.max_backends is None
    combos = _combos(c, combo_groups, max_combos)
    layers: list[tuple[int, ...] | None] = list(combos) if combos is not None else [None]

    scenarios: list[Scenario] = []
    for d, share_lo, share_hi in share_layers:
        if not switching or union:
            p_lb = np.zeros_like(s)
        elif d is None:
            p_lb = np.full_like(s, 1.0 - share_hi)
        else:
            p_lb = np.where(c.model_group == d, 1.0 - share_hi, 1.0 - min(share_hi, 1.0 - share_lo))
        final = lam * (share_lo - (c.model_group == d)) if d is not None and share_lo > 0 else None
        w = lam * (s + p_lb * o) / 1000.0
        v = lam * (m2 + p_lb * (2.0 * o * s + o * o)) / 1000.0
        for a_pre, b_pre in pre_intervals:
            budget_total = c.slo_ms - c.network_ms - np.where(pre > 0, _frontend_lower(pre, q, a_pre), 0.0)
            alpha = np.zeros_like(s)
            beta = np.zeros_like(s)
            ok = np.ones(len(s), dtype=bool)
            if fcfs:
                # Mean: R_k = s_k + (1 - p_k) o_k + W, and the exact wait W is at least the wait with no switch
                # overhead at all (same arrivals and services: every wait shrinks), Pollaczek-Khinchine on
                # (rho_0, V_0) without switches: rho_0 + V_0 / (2 tau_k) <= 1.
                mean = np.isnan(q)
                tau = budget_total - s - p_lb * o
                ok &= ~mean | (tau > 0)
                alpha[mean] = 1.0
                beta[mean & ok] = 1.0 / (2.0 * tau[mean & ok])
                # Percentile: no SLO row (no linear lower bound of the v2 percentile on a shared device is
                # known); the member's own service percentile must fit.
                ok &= mean | (budget_total >= service_quantile * (1.0 - RELAX))
            else:
                for i in range(len(s)):
                    slack = budget_total[i]
                    if math.isnan(q[i]):
                        k_i = s[i] if c.ps_variant == "exact" else s_min  # additive: S_bar >= the fastest item
                        y = (slack - s[i]) / k_i
                        rho_star = y / (1.0 + y) if y >= 0 else -math.inf
                    else:  # the v2 percentile depends on the utilisation alone, whatever the mean model
                        rho_star = latency.ps_utilization_threshold(
                            float(q[i]), float(slack), float(s[i]), float(c.scv[i]), relaxed=True
                        )
                    if rho_star > 0:
                        alpha[i] = 1.0 / rho_star
                    else:
                        ok[i] = False
            rho_cap = cap * (1.0 + RELAX)
            rows, caps = [w], [rho_cap]
            ok &= w <= rho_cap
            if b_pre is not None:
                pre_cap = b_pre * c.preprocess_cores * (1.0 + RELAX) + EPS
                ok &= pre_load <= pre_cap
                rows.append(pre_load)
                caps.append(pre_cap)
            label = f"d={d} share in [{share_lo:.2f}, {share_hi:.2f}]" if d is not None else "all"
            if b_pre is not None:
                label += f" pre<={b_pre:.3f}"
            if final is not None:
                # implied by the share row, with positive weights so that it prunes: the other
                # models' rate is at most (1 - g) / g times all of d's candidate rate
                others = np.where(c.model_group == d, 0.0, lam)
                rows = [*rows, others]
                caps = [*caps, (1.0 - share_lo) / share_lo * float(lam[c.model_group == d].sum()) * (1 + RELAX)]
            for combo in layers:
                allowed_mask = ok.copy()
                rows_c, caps_c = list(rows), list(caps)
                if combo is not None:
                    allowed_mask &= np.isin(c.group, combo)
                    if d is not None and d not in set(c.model_group[np.isin(c.group, combo)].tolist()):
                        continue
                    prepaid = float(c.group_memory_mb[list(combo)].sum()) if c.backend_memory_on_node else 0.0
                    rows_c.append(c.frontend_memory_mb)
                    caps_c.append(c.node_memory_limit_mb * (1.0 + RELAX) - prepaid)
                allowed = np.flatnonzero(allowed_mask)
                if not len(allowed):
                    continue
                order = allowed[np.lexsort((-alpha[allowed], -beta[allowed]))]
                member = np.zeros(len(s), dtype=bool)
                member[order] = True
                scenarios.append(
                    Scenario(
                        label=label if combo is None else f"{label} backends={list(combo)}",
                        order=order,
                        w=w,
                        v=v,
                        alpha=alpha,
                        beta=beta,
                        rows=rows_c,
                        caps=caps_c,
                        dominant_model=d,
                        final=final,
                        combo=combo,
                        exact=exact_base,
                        member=member,
                        slo_w=w0 if fcfs else None,
                        slo_v=lam * m2 / 1000.0 if fcfs else None,
                    )
                )
    return scenarios


# --- fractional bounds, vectorised over thresholds -------------------------------------------


def _fractional(profit: np.ndarray, weight: np.ndarray, mask: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Fractional knapsack value per row t over items j with mask[t, j], capacity cap[t].

    ``weight`` is (T, J) or (J,); items with zero weight are free, items without positive profit
    are ignored. A negative capacity gives 0 (the caller treats that row as infeasible).
    """
    t_count, j_count = mask.shape
    if j_count == 0:
        return np.zeros(t_count)
    weight = np.broadcast_to(weight, (t_count, j_count))
    mask = mask & (profit > 0)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(weight > 0, profit / weight, np.inf)
    density = np.where(mask, density, -np.inf)
    order = np.argsort(-density, axis=1, kind="stable")
    rows = np.arange(t_count)
    pick = (rows[:, None], order)
    p_sorted = np.where(mask, profit, 0.0)[pick]
    w_sorted = np.where(mask, weight, 0.0)[pick]
    d_sorted = density[pick]
    cw = np.cumsum(w_sorted, axis=1)
    cp = np.cumsum(p_sorted, axis=1)
    crit = (cw <= cap[:, None]).sum(axis=1)  # first item that does not fit whole
    before_w = np.where(crit > 0, cw[rows, np.maximum(crit - 1, 0)], 0.0)
    before_p = np.where(crit > 0, cp[rows, np.maximum(crit - 1, 0)], 0.0)
    full = crit >= j_count
    crit_c = np.minimum(crit, j_count - 1)
    frac_d = d_sorted[rows, crit_c]
    with np.errstate(invalid="ignore"):
        frac = np.where(full | ~np.isfinite(frac_d), 0.0, np.maximum(cap - before_w, 0.0) * np.maximum(frac_d, 0.0))
    return before_p + frac


def subproblems(
    scenario: Scenario, profit: np.ndarray, items: np.ndarray, offset: float = 0.0, *, merge_tail: bool = True
) -> list[Subproblem]:
    """Subproblems of ``scenario`` over ``items`` (in the scenario's order), with fractional bounds.

    ``offset`` is added to every bound (minus the prepaid backends' costs).
    """
    size = len(items)
    if size == 0:
        return []
    a, b = scenario.alpha[items], scenario.beta[items]
    p = profit[items]
    wi = scenario.w[items]
    w_slo, v_slo = (x[items] for x in scenario.slo_weights())
    rho_cap = scenario.caps[0]
    # SLO-row weights per threshold t (row) and item j (column).
    slo_w = a[:, None] * w_slo[None, :] + b[:, None] * v_slo[None, :]
    # Implied: the SLO row follows from the utilisation row for every item.
    implied = np.all(slo_w <= wi[None, :] / rho_cap * (1.0 + EPS), axis=1) | ((a == 0) & (b == 0))
    tail = size
    if merge_tail:
        while tail > 0 and implied[tail - 1]:
            tail -= 1
    out: list[Subproblem] = []
    static = [(row[items], cap) for row, cap in zip(scenario.rows, scenario.caps)]
    if tail > 0:
        t_idx = np.arange(tail)
        mask = np.arange(size)[None, :] > t_idx[:, None]
        self_w = slo_w[t_idx, t_idx]
        bounds = [p[:tail] + _fractional(p, slo_w[:tail], mask, 1.0 + RELAX - self_w)]
        feasible = 1.0 + RELAX - self_w >= 0
        for weights, cap in static:
            bounds.append(p[:tail] + _fractional(p, weights, mask, cap - weights[:tail]))
            feasible &= cap - weights[:tail] >= 0
        bound = np.minimum.reduce(bounds) + offset
        for t in np.flatnonzero(feasible):
            out.append(Subproblem(scenario, int(items[t]), items[t + 1 :], not bool(implied[t]), float(bound[t])))
    if tail < size:
        rest = items[tail:]
        mask = np.ones((1, size - tail), dtype=bool)
        pr = p[tail:]
        bound = min(float(_fractional(pr, weights[tail:], mask, np.array([cap]))[0]) for weights, cap in static)
        out.append(Subproblem(scenario, None, rest, False, bound + offset))
    return out


# --- branch and bound -------------------------------------------------------------------------


class NodeLimit(Exception):
    """The branch and bound reached its node limit (heuristic pricing)."""


class OutOfTime(Exception):
    """Pricing ran past its deadline; its value is then no bound."""


@functools.cache
def _simplex_grid(rows: int) -> np.ndarray:
    """Convex multipliers for a surrogate of ``rows`` rows: the unit vectors and a coarse grid inside."""
    steps = {1: 1, 2: 6, 3: 4, 4: 2}.get(rows, 1)
    points = [combo for combo in itertools.product(range(steps + 1), repeat=rows) if sum(combo) == steps]
    return np.array(points, dtype=float) / steps


def _twin_before(cls: AcceleratorClass, order: np.ndarray, profit: np.ndarray) -> list[int]:
    """Per search position, the previous position holding an identical item (or -1).

    Identical: same backend, rate, SLO (value and statistic), pre-processing, front-end memory and
    occupancy limit, so swapping them changes neither a row nor the exact check (co-compilation
    and ``max_backends`` depend on the backends only). Within a search, an item at least as
    profitable comes first (density order on equal weights, then profit order), so every set can
    be replaced by a canonical one (each kind's first members) of at least its value: a search may
    skip an item whose twin before it is left out (types with counts, issue 11 part B).
    """
    kinds = _twin_kinds(cls)
    last: dict[int, int] = {}
    out = []
    for position, j in enumerate(order.tolist()):
        key = kinds[j]
        before = last.get(key, -1)
        out.append(before if before >= 0 and profit[order[before]] >= profit[j] else -1)
        last[key] = position
    return out


def _twin_kinds(cls: AcceleratorClass) -> list[int]:
    """An id per item of the class, equal for identical items (``_twin_before``); computed once per
    class (a pricing round builds dozens of searches, and the keys cost more than the search on
    200-application classes)."""
    kinds = cls.__dict__.get("_twin_kinds")
    if kinds is None:
        c = cls
        ids: dict[tuple[float, ...], int] = {}
        kinds = []
        for j in range(c.size):
            q = float(c.quantile[j])
            key = (
                float(c.group[j]),
                float(c.rate_rps[j]),
                float(c.slo_ms[j]),
                -1.0 if math.isnan(q) else q,
                float(c.preprocess_ms[j]),
                float(c.frontend_memory_mb[j]),
                float(c.occupancy_ms[j]) if len(c.occupancy_ms) else math.inf,  # front-end occupancy limit
            )
            kinds.append(ids.setdefault(key, len(ids)))
        cls.__dict__["_twin_kinds"] = kinds
    return kinds


class Knapsack:
    """Depth-first branch and bound over one subproblem.

    The bound at every node is the fractional knapsack on a *surrogate* row: the convex combination
    of the normalised rows that gives the smallest bound at the root (any set meeting every row meets
    the surrogate, so the bound stays valid), with items sorted by density on it.
    """

    def __init__(
        self,
        cls: AcceleratorClass,
        sub: Subproblem,
        profit: np.ndarray,
        group_cost: np.ndarray,
        *,
        include_nonpositive: bool = False,
        final_slack: float = 0.0,
    ):
        c = self.cls = cls
        sc = sub.scenario
        rows_w, rows_cap = sub.rows()
        cand = sub.candidates
        if not include_nonpositive:
            cand = cand[profit[cand] > EPS]
        k = sub.forced
        rem0 = np.array([cap - (row[k] if k is not None else 0.0) for row, cap in zip(rows_w, rows_cap)])
        self.feasible_root = bool(np.all(rem0 >= 0))
        pos = cand[profit[cand] > EPS]
        # surrogate row: sum_r mu_r a_r / rem0_r <= 1, mu chosen at the root on a small grid
        scale = np.where(rem0 > 0, 1.0 / np.maximum(rem0, 1e-300), 0.0)
        normalised = np.array([row[pos] for row in rows_w]) * scale[:, None] if len(pos) else np.zeros((len(rows_w), 0))
        grid = _simplex_grid(len(rows_w))
        weights = grid @ normalised
        values = _fractional(profit[pos], weights, np.ones(weights.shape, dtype=bool), np.ones(len(grid)))
        mu = grid[int(np.argmin(values))] * scale
        surrogate = sum(m * row for m, row in zip(mu, rows_w))
        with np.errstate(divide="ignore", invalid="ignore"):
            density = np.where(surrogate[pos] > 0, profit[pos] / surrogate[pos], np.inf)
        positive = pos[np.argsort(-density, kind="stable")]
        rest = cand[profit[cand] <= EPS]
        rest = rest[np.argsort(-profit[rest], kind="stable")]
        order = np.concatenate([positive, rest]).astype(np.intp)
        self.order = order.tolist()
        self.n = len(order)
        self.n_pos = len(positive)
        self.prof = profit[order].tolist()
        self.n_check = len(rows_w)
        self.rows = [row[order].tolist() for row in rows_w] + [surrogate[order].tolist()]
        self.bound_row = self.n_check
        bwl = self.rows[-1]
        cw, cp = [0.0], [0.0]
        for i in range(self.n_pos):
            cw.append(cw[-1] + bwl[i])
            cp.append(cp[-1] + self.prof[i])
        self.cw, self.cp = cw, cp
        self.dens = [self.prof[i] / bwl[i] if bwl[i] > 0 else math.inf for i in range(self.n_pos)]
        self.grp = c.group[order].tolist()
        self.twin_before = _twin_before(c, order, profit)
        self.symmetric = True  # best/best_exact: only canonical sets among identical items (not enumerate)
        self.gcost = group_cost.tolist()
        self.gmem = c.group_memory_mb.tolist()
        self.fmem = c.frontend_memory_mb[order].tolist()
        self.on_node = c.backend_memory_on_node
        self.open = [0] * len(self.gmem)
        self.opened = 0
        self.base = 0.0
        if sc.combo is not None:
            # backends paid up front; memory is the linear front-end row of the scenario
            for g in sc.combo:
                self.open[g] = 1
                self.base -= self.gcost[g]
            self.dedicated = False
            self.dev_rem = self.node_rem = math.inf
        else:
            self.dedicated = c.discipline == Discipline.DEDICATED
            self.dev_rem = (c.device_memory_limit_mb or 0.0) * (1.0 + RELAX)
            self.node_rem = c.node_memory_limit_mb * (1.0 + RELAX)
        self.rem = [*rem0.tolist(), float(np.dot(mu, rem0))]
        self.final = sc.final[order].tolist() if sc.final is not None else None
        self.final_sum = float(sc.final[k]) if sc.final is not None and k is not None else 0.0
        # The share row has negative weights (the dominant model's items): a search without the
        # non-positive items loosens it by what those could contribute, so that the profitable part
        # of every set of the scenario still counts (model.md, "share row and non-positive items").
        self.final_tol = FINAL_TOL + final_slack
        self.chosen: list[int] = []
        self.nodes = 0
        self.node_limit = math.inf
        self.deadline = math.inf
        self.work_limit = math.inf  # nodes; past it the search stops like past the deadline (no bound)
        if k is not None:
            self.base += float(profit[k])
            g = int(c.group[k])
            new = self.open[g] == 0
            if not self._take_group(g, float(c.frontend_memory_mb[k])):
                self.feasible_root = False
            if new:
                self.base -= self.gcost[g]
        self.forced = k
        self.load = None  # exact-utilisation pruning (``_track_load``), off unless a search asks for it

    def _track_load(self) -> None:
        """Prune by the set's *exact* utilisation with the least switch overheads (FCFS).

        With ``x_m`` the request share of model m, the utilisation is
        ``(sum_j lambda_j s_j + sum_m lambda_m (1 - x_m) o_m) / 1000``; adding requests of any model
        never lowers it (the derivative of the switch load in ``lambda_b`` is
        ``o_b (1 - x_b)^2 + sum_{m != b} o_m x_m^2 >= 0``), so a set over the cap has no feasible
        superset under any co-compilation option (each pays at least ``switch_least_ms``): the
        search may drop the whole subtree, although v2 feasibility is not downward closed. The
        check switches per backend; counting the backends of one model together (unshared
        models have one per application) only lowers the switch load
        (``sum_b lambda_b^2 <= lambda_m^2``), so the tracked utilisation stays below the check's."""
        c = self.cls
        if c.discipline != Discipline.FCFS or not len(c.switch_least_ms) or not np.any(c.switch_least_ms > 0):
            return
        order = self.order
        self.l_model = c.model_group[order].tolist()
        self.l_rate = c.rate_rps[order].tolist()
        self.l_service = (c.rate_rps[order] * c.service_ms[order]).tolist()
        self.l_switch = c.switch_least_ms[order].tolist()
        self.load = [0.0, 0.0, 0.0, 0.0]  # sum lambda s, Lambda, sum_m lambda_m o_m, sum_m lambda_m^2 o_m
        self.model_rate = [0.0] * (int(c.model_group.max()) + 1)
        self.load_cap = 1000.0 * c.utilization_cap * (1.0 + 1e-7)  # looser than the check: float sums
        if self.forced is not None:
            k = self.forced
            self._add_load(
                int(c.model_group[k]),
                float(c.rate_rps[k]),
                float(c.rate_rps[k] * c.service_ms[k]),
                float(c.switch_least_ms[k]),
                1.0,
            )

    def _add_load(self, model: int, rate: float, service_load: float, switch: float, sign: float) -> bool:
        """Add (sign 1) or remove (-1) one item's requests; True while the utilisation is within the cap."""
        load, before = self.load, self.model_rate[model]
        after = before + sign * rate
        self.model_rate[model] = after
        load[0] += sign * service_load
        load[1] += sign * rate
        load[2] += sign * rate * switch
        load[3] += (after * after - before * before) * switch
        total = load[1]
        return total <= 0 or load[0] + load[2] - load[3] / total <= self.load_cap

    def _take_group(self, g: int, fmem: float) -> bool:
        """Open backend g (or join it) for an item with front-end memory fmem; False if it does not fit."""
        if self.open[g] == 0:
            if self.dedicated and self.opened >= 1:
                return False
            gm = self.gmem[g]
            node_need = fmem + (gm if self.on_node else 0.0)
            if not self.on_node and gm > self.dev_rem:
                return False
            if node_need > self.node_rem:
                return False
            if not self.on_node:
                self.dev_rem -= gm
            self.node_rem -= node_need
            self.opened += 1
        else:
            if fmem > self.node_rem:
                return False
            self.node_rem -= fmem
        self.open[g] += 1
        return True

    def _drop_group(self, g: int, fmem: float) -> None:
        self.open[g] -= 1
        if self.open[g] == 0:
            gm = self.gmem[g]
            if not self.on_node:
                self.dev_rem += gm
            self.node_rem += fmem + (gm if self.on_node else 0.0)
            self.opened -= 1
        else:
            self.node_rem += fmem

    def _bound(self, i: int, value: float) -> float:
        if i >= self.n_pos:
            return value
        cw, cp = self.cw, self.cp
        target = cw[i] + self.rem[self.bound_row]
        t = bisect_right(cw, target, i) - 1
        if t >= self.n_pos:
            return value + cp[self.n_pos] - cp[i]
        return value + cp[t] - cp[i] + (target - cw[t]) * self.dens[t]

    def _items(self, chosen: list[int]) -> tuple[int, ...]:
        items = [self.order[i] for i in chosen]
        if self.forced is not None:
            items.append(self.forced)
        return tuple(sorted(items))

    def _search(self, floor: float, start_value: float, visit) -> None:
        """Depth-first search; ``visit(value, chosen)`` is called on each new set and returns the prune level."""
        rows, rem, prof, grp, fmem, gcost = self.rows, self.rem, self.prof, self.grp, self.fmem, self.gcost
        r_count = len(rows)
        n_check = self.n_check
        final = self.final
        chosen = self.chosen
        limit_n = self.n
        node_limit = self.node_limit
        level = [floor]
        twin = self.twin_before if self.symmetric else [-1] * limit_n
        taken = [False] * limit_n
        n_pos, bound = self.n_pos, self._bound
        tracked = self.load is not None
        if tracked:
            add_load, l_model, l_rate = self._add_load, self.l_model, self.l_rate
            l_service, l_switch = self.l_service, self.l_switch

        def rec(start: int, value: float) -> None:
            for i in range(start, limit_n):
                self.nodes += 1
                if self.nodes > node_limit:
                    raise NodeLimit
                if not self.nodes & 4095 and (time.perf_counter() > self.deadline or self.nodes > self.work_limit):
                    raise OutOfTime
                if (value if i >= n_pos else bound(i, value)) < level[0]:
                    return  # the bound only falls further along the order (no gain past n_pos)
                if twin[i] >= 0 and not taken[twin[i]]:
                    continue  # an identical item at least as profitable is left out: not a canonical set
                ok = True
                for r in range(n_check):
                    if rows[r][i] > rem[r]:
                        ok = False
                        break
                if not ok:
                    continue
                g = grp[i]
                new = self.open[g] == 0
                if not self._take_group(g, fmem[i]):
                    continue
                if tracked and not add_load(l_model[i], l_rate[i], l_service[i], l_switch[i], 1.0):
                    add_load(l_model[i], l_rate[i], l_service[i], l_switch[i], -1.0)
                    self._drop_group(g, fmem[i])
                    continue  # over the cap: so is every superset (``_track_load``)
                for r in range(r_count):
                    rem[r] -= rows[r][i]
                gain = prof[i] - (gcost[g] if new else 0.0)
                chosen.append(i)
                taken[i] = True
                if final is not None:
                    self.final_sum += final[i]
                if final is None or self.final_sum <= self.final_tol:
                    level[0] = visit(value + gain, chosen)
                rec(i + 1, value + gain)
                if final is not None:
                    self.final_sum -= final[i]
                chosen.pop()
                taken[i] = False
                for r in range(r_count):
                    rem[r] += rows[r][i]
                self._drop_group(g, fmem[i])
                if tracked:
                    add_load(l_model[i], l_rate[i], l_service[i], l_switch[i], -1.0)

        rec(0, start_value)

    def best(
        self, floor: float, keep: int = 3, node_limit: float = math.inf, deadline: float = math.inf
    ) -> tuple[float, list[tuple[float, tuple[int, ...]]], int]:
        """Largest profit above ``floor``; returns (best, the last ``keep`` improving sets, nodes).

        With a finite ``node_limit`` the search may stop early: the result is then only a good set.
        """
        found: list[tuple[float, list[int]]] = []
        if not self.feasible_root:
            return floor, [], 0
        best = [floor]
        if self.forced is not None and self.base > floor + EPS and self.final_sum <= self.final_tol:
            best[0] = self.base
            found.append((self.base, []))
        limit_n = self.n
        self.n = self.n_pos  # profitable items only

        def visit(value: float, chosen: list[int]) -> float:
            if value > best[0] + EPS:
                best[0] = value
                found.append((value, list(chosen)))
            return best[0] + EPS + 1e-12

        self.node_limit = node_limit
        self.deadline = deadline
        self._track_load()
        try:
            self._search(floor, self.base, visit)
        except NodeLimit:
            pass
        except OutOfTime:
            self.n = limit_n
            raise
        self.n = limit_n
        out = [(value, self._items(chosen)) for value, chosen in found[-keep:]]
        out.sort(key=lambda item: -item[0])
        return best[0], out, self.nodes

    def best_exact(
        self, floor: float, feasible, check_limit: float, deadline: float
    ) -> tuple[float, list[tuple[float, tuple[int, ...]]], int]:
        """Largest profit above ``floor`` over sets that ``feasible`` accepts; (best, improving sets, checks).

        The branch and bound runs over the scenario's (relaxed) rows with every item, non-positive
        ones included (an exactly feasible set need not have feasible subsets), and checks a set
        only when it beats the best accepted one. Raises :class:`NodeLimit` past ``check_limit``
        checks and :class:`OutOfTime` past the deadline: then nothing is proven.
        """
        found: list[tuple[float, tuple[int, ...]]] = []
        if not self.feasible_root:
            return floor, [], 0
        level = [floor]
        checks = [0]

        def accept(value: float, items: tuple[int, ...]) -> None:
            if value > level[0] + EPS:
                checks[0] += 1
                if checks[0] > check_limit:
                    raise NodeLimit
                if feasible(items):
                    level[0] = value
                    found.append((value, items))

        if self.forced is not None and self.final_sum <= self.final_tol:
            accept(self.base, self._items([]))

        def visit(value: float, chosen: list[int]) -> float:
            accept(value, self._items(chosen))
            return level[0] + EPS

        self.deadline = deadline
        self._track_load()
        self._search(floor, self.base, visit)
        found.sort(key=lambda item: -item[0])
        return level[0], found, checks[0]

    def enumerate(
        self,
        floor: float,
        limit: int,
        out: set[tuple[int, ...]],
        deadline: float,
        types: np.ndarray | None = None,
    ) -> bool:
        """Add to ``out`` every set (with the forced item) of profit >= ``floor``; False past ``limit``.

        With ``types`` (a type id per item of the class, equal profits within a type) only one set
        per multiset of types is needed: the search takes the members of each type in order (an
        item is skipped while an earlier one of its type is left out), so every multiset is
        reached through its canonical set and no other.
        """
        if not self.feasible_root:
            return True
        if self.forced is not None and self.base >= floor - EPS and self.final_sum <= self.final_tol:
            out.add(self._items([]))
        if types is None:
            self.symmetric = False  # every set: identical applications are different rows of the master
        else:
            last: dict[int, int] = {}
            twins = []
            for position, j in enumerate(self.order):
                twins.append(last.get(int(types[j]), -1))
                last[int(types[j])] = position
            self.twin_before, self.symmetric = twins, True
        self._track_load()

        class Full(Exception):
            pass

        def visit(value: float, chosen: list[int]) -> float:
            if value >= floor - EPS:
                out.add(self._items(chosen))
                if len(out) > limit or (len(out) % 256 == 0 and time.perf_counter() > deadline):
                    raise Full
            return floor - EPS

        try:
            self._search(floor - EPS, self.base, visit)
        except Full:
            return False
        return True


# --- the pricer --------------------------------------------------------------------------------


class Pricer:
    """Prices one accelerator class: the best set for given item profits, or all sets above a floor."""

    def __init__(self, cls: AcceleratorClass, *, frontend_levels: int = 4):
        self.cls = cls
        self.frontend_levels = frontend_levels
        self.scenarios = build_scenarios(cls, frontend_levels)
        self._union: list[Scenario] | None = None
        self.checker = SetChecker(cls)
        self.exact = all(s.exact for s in self.scenarios)
        count = len(self.scenarios)
        self.masks = np.array([sc.member for sc in self.scenarios], dtype=bool).reshape(count, cls.size)
        # static rows stacked over scenarios (every scenario of a class has the same row structure)
        self.static_rows = max((len(sc.rows) for sc in self.scenarios), default=0)
        zero = np.zeros(cls.size)
        self.row_weights = [
            np.array([sc.rows[r] if r < len(sc.rows) else zero for sc in self.scenarios]).reshape(count, cls.size)
            for r in range(self.static_rows)
        ]
        self.row_caps = [
            np.array([sc.caps[r] if r < len(sc.caps) else np.inf for sc in self.scenarios])
            for r in range(self.static_rows)
        ]
        self.combo_groups = None
        if any(sc.combo is not None for sc in self.scenarios):
            self.combo_groups = np.zeros((count, len(cls.group_memory_mb)))
            for i, sc in enumerate(self.scenarios):
                if sc.combo is not None:
                    self.combo_groups[i, list(sc.combo)] = 1.0

    def _offset(self, scenario: Scenario, group_cost: np.ndarray) -> float:
        return -float(group_cost[list(scenario.combo)].sum()) if scenario.combo is not None else 0.0

    def scenario_bounds(self, profit: np.ndarray, group_cost: np.ndarray) -> np.ndarray:
        """Fractional upper bound of every scenario on each static row, all scenarios at once."""
        value = np.full(len(self.scenarios), np.inf)
        for r in range(self.static_rows):
            value = np.minimum(value, _fractional(profit, self.row_weights[r], self.masks, self.row_caps[r]))
        if self.combo_groups is not None:
            value -= self.combo_groups @ group_cost
        return value

    def price(
        self,
        profit: np.ndarray,
        group_cost: np.ndarray,
        floor: float,
        keep: int = 3,
        *,
        heuristic: bool = False,
        deadline: float = math.inf,
        node_budget: float = math.inf,
    ) -> PricingResult:
        """Max of profit(S) - backend costs over (relaxed-)feasible nonempty S, if it exceeds ``floor``.

        ``heuristic=True`` caps the search (few scenarios, few nodes each): it returns good columns
        fast, but its value is not a bound. ``node_budget`` caps the branch-and-bound nodes of an
        exact round like ``deadline`` caps its time (deterministic runs): past it, no bound.
        Subproblems that are plain knapsacks over integral weights are solved by dynamic
        programming (``knapsack_dp``), exactly.
        """
        node_limit = HEURISTIC_NODES if heuristic else math.inf
        scenario_limit = HEURISTIC_SCENARIOS if heuristic else math.inf
        expanded = 0
        positive = profit > EPS
        models_with_profit = set(self.cls.model_group[positive].tolist())
        bounds = self.scenario_bounds(profit, group_cost)
        best = floor
        columns: list[tuple[float, tuple[int, ...]]] = []
        explored = nodes = count_subs = cells = dp_items = 0
        complete = not heuristic
        for index in np.argsort(-bounds, kind="stable"):
            if bounds[index] <= best + EPS or time.perf_counter() > deadline:
                complete = complete and bounds[index] <= best + EPS
                break
            scenario = self.scenarios[index]
            final_slack = 0.0
            if scenario.final is not None:
                left_out = scenario.order[~positive[scenario.order]]
                final_slack = -float(np.minimum(scenario.final[left_out], 0.0).sum())
            if scenario.dominant_model not in (None, *models_with_profit) and final_slack <= 0.0:
                continue  # no profitable set meets the share row g Lambda <= lambda_d
            expanded += 1
            if expanded > scenario_limit:
                break
            items = scenario.order[positive[scenario.order]]
            subs = subproblems(scenario, profit, items, self._offset(scenario, group_cost))
            count_subs += len(subs)
            subs.sort(key=lambda sp: -sp.bound)
            for sub in subs:
                if sub.bound <= best + EPS:
                    break
                if not complete and not heuristic:
                    break
                plain = plain_knapsack(
                    self.cls,
                    *sub.rows(),
                    sub.forced,
                    sub.candidates,
                    profit,
                    group_cost,
                    combo=scenario.combo,
                    final=scenario.final,
                )
                if plain is not None:
                    value, chosen = plain.solve(best, keep)
                    forced = [] if sub.forced is None else [sub.forced]
                    found = [(v, tuple(sorted(items + forced))) for v, items in chosen]
                    cells += plain.work
                    dp_items += len(plain.items)
                    best = max(best, value)
                    columns.extend(found)
                    continue
                explored += 1  # knapsacks set up for the branch and bound (the DP ones count as cells)
                knapsack = Knapsack(self.cls, sub, profit, group_cost, final_slack=final_slack)
                knapsack.work_limit = node_budget - nodes
                try:
                    value, found, count = knapsack.best(best, keep, node_limit, deadline)
                except OutOfTime:
                    complete = False
                    nodes += knapsack.nodes
                    break
                nodes += count
                best = max(best, value)
                columns.extend(found)
        unique: dict[tuple[int, ...], float] = {}
        for value, items in columns:
            unique[items] = max(value, unique.get(items, -math.inf))
        ordered = sorted(((v, k) for k, v in unique.items()), key=lambda item: -item[0])
        return PricingResult(
            best if best > floor + EPS else -math.inf, ordered, count_subs, explored, nodes, complete, cells, dp_items
        )

    def set_value(self, items: tuple[int, ...], profit: np.ndarray, group_cost: np.ndarray) -> float:
        """profit(S) minus the costs of the backends S opens (the pricing objective of one set)."""
        index = list(items)
        return float(profit[index].sum() - group_cost[np.unique(self.cls.group[index])].sum())

    def price_exactly(
        self,
        profit: np.ndarray,
        group_cost: np.ndarray,
        floor: float,
        known: list[tuple[int, ...]],
        limit: int,
        deadline: float = math.inf,
        node_budget: float = math.inf,
        ceiling: float = math.inf,
    ) -> ExactPricing | None:
        """The exact maximum over the class's feasible sets, for a class whose scenarios are relaxed.

        ``known`` are exactly feasible sets (the master's columns of the class); the best of them at
        these profits starts the search. Every scenario whose bound beats the best accepted set is
        searched by :meth:`Knapsack.best_exact`: a branch and bound over the scenario's relaxed rows,
        every item included, that accepts a set only after the exact check. The scenarios cover every
        feasible set (model.md), so when every search completes the best accepted set is the exact
        maximum. ``ceiling`` (the relaxed maximum, if known) stops the search once a feasible set
        reaches it. Returns None past ``limit`` exact checks or the deadline (then only the relaxed
        :meth:`price` gives a bound). See model.md, "Exact pricing over relaxed scenarios".
        """
        values = {
            items: self.set_value(items, profit, group_cost) for items in set(known) if self.checker.feasible(items)
        }
        best = max(floor, max(values.values(), default=-math.inf))
        accepted: dict[tuple[int, ...], float] = {}
        checks = nodes = 0
        bounds = self.scenario_bounds(profit, group_cost)
        for index in np.argsort(-bounds, kind="stable"):
            if bounds[index] <= best + EPS or best >= ceiling - EPS:
                break
            scenario = self.scenarios[index]
            subs = subproblems(scenario, profit, scenario.order, self._offset(scenario, group_cost))
            subs.sort(key=lambda sp: -sp.bound)
            for sub in subs:
                if sub.bound <= best + EPS or best >= ceiling - EPS:
                    break
                knapsack = Knapsack(self.cls, sub, profit, group_cost, include_nonpositive=True)
                knapsack.work_limit = node_budget - nodes
                try:
                    value, found, used = knapsack.best_exact(best, self.checker.feasible, limit - checks, deadline)
                except (NodeLimit, OutOfTime):
                    return None
                checks += used
                nodes += knapsack.nodes
                best = max(best, value)
                accepted.update((items, v) for v, items in found)
        accepted.update((k, v) for k, v in values.items() if v > floor + EPS)
        return ExactPricing(best if best > floor + EPS else -math.inf, _best_first(accepted), True, checks, nodes)

    def union_scenarios(self) -> list[Scenario]:
        """The scenarios with one switch layer for all sets (``build_scenarios(union=True)``), cached."""
        if self._union is None:
            self._union = build_scenarios(self.cls, self.frontend_levels, union=True)
        return self._union

    def enumerate(
        self,
        profit: np.ndarray,
        group_cost: np.ndarray,
        floor: float,
        limit: int,
        deadline: float = math.inf,
        types: np.ndarray | None = None,
    ) -> list[tuple[int, ...]] | None:
        """Every exactly feasible set of profit >= ``floor`` (None past ``limit`` sets or the deadline).

        With ``types`` (a type id per item; equal profits within a type), one set per multiset of
        types: identical items give the same rows and the same exact check, so the check runs
        once per multiset too.
        """
        found: set[tuple[int, ...]] = set()
        # One switch layer for all sets (``union``): the share layers would meet each set once per
        # layer that admits it (43 on heterogeneous.json's edgeTPUs); the exact-utilisation
        # pruning of the search does what their utilisation rows did.
        for scenario in self.union_scenarios():
            offset = self._offset(scenario, group_cost)
            for sub in subproblems(scenario, profit, scenario.order, offset):
                if sub.bound < floor - EPS:
                    continue  # nothing in it reaches the floor
                knap = Knapsack(self.cls, sub, profit, group_cost, include_nonpositive=True)
                if not knap.enumerate(floor, limit, found, deadline, types):
                    return None
        if types is None:
            return [items for items in found if self.checker.feasible(items)]
        by_multiset: dict[tuple[int, ...], tuple[int, ...]] = {}
        for items in sorted(found):
            by_multiset.setdefault(tuple(sorted(int(types[i]) for i in items)), items)
        return [items for items in by_multiset.values() if self.checker.feasible(items)]

    def repair(self, items: tuple[int, ...], profit: np.ndarray) -> tuple[int, ...] | None:
        """A feasible subset of ``items``: drop the least profitable per unit of load until feasible."""
        current = list(items)
        c = self.cls
        while current:
            if self.checker.feasible(tuple(current)):
                return tuple(sorted(current))
            load = c.rate_rps[current] * (c.service_ms[current] + c.switch_ms[current])
            score = profit[current] / np.maximum(load, 1e-12)
            current.pop(int(np.argmin(score)))
        return None
