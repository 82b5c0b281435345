"""A fast valid bound for large instances: Lagrangian relaxation of "each application at most once".

With multipliers ``mu_a >= 0`` on the assignment rows, the relaxed model splits into one problem
per accelerator: pick a set of applications of largest reduced weight ``w_a - mu_a``. Any upper
bound on each accelerator's problem gives a valid bound on the whole:

    bound(mu) = sum_a mu_a + sum_d max(0, best_d(mu)).

``best_d`` is bounded here by fractional knapsacks read off the *relaxed* model's regimes (so
every approximation already leans the optimistic way): for every mode and every tightest-member
level of a threshold chain, a fractional knapsack on the load ``U`` with the level's capacity over
the applications allowed at that level; for the other modes, per tightest mean-SLO member, the
smaller of the knapsack on the mode's utilisation ceiling and the knapsack on that level's
``A + 2 tau U <= 2000 tau`` row, plus the ceiling alone for sets with no mean-SLO member. Memory and front-end coupling are dropped (a relaxation).
Sub-gradient steps (Polyak, aimed at the incumbent value) improve ``mu``; every iterate's bound is
valid, the best is kept. Only maximisation objectives with per-pair weights (max_hosted,
max_value) are handled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .build import AssignmentModel

FEASIBILITY_EPS = 1e-12


@dataclass
class LevelKnapsacks:
    """Fractional knapsacks over one item list, one per tightest-member level.

    Level ``l`` may use the items with ``level_of >= l`` (and every item when ``level_of`` is -1,
    i.e. an item of another chain), with capacity ``capacity[l]`` on ``size[l]``; when ``ceiling`` is
    set, the level's value is the smaller of that and the knapsack on ``load`` with that ceiling.
    """

    items: np.ndarray  # positions into the accelerator's pair list
    level_of: np.ndarray  # per item; -1 = allowed at every level
    size: np.ndarray  # (levels, items) or (1, items) when every level shares the sizes
    capacity: np.ndarray  # per level
    load: np.ndarray | None = None  # per item, for the ceiling
    ceiling: float | None = None


MAX_FCFS_LEVELS = 4  # FCFS rows per chain in the bound; looser rows are valid for tighter anchors


def knapsacks(am: AssignmentModel) -> dict[int, list[LevelKnapsacks]]:
    """Per accelerator, the level knapsacks whose best value bounds the accelerator's problem."""
    p = am.data.pairs
    out: dict[int, list[LevelKnapsacks]] = {}
    for d, acc in am.accelerators.items():
        k = acc.pairs
        load = p.rate[k] * p.service[k]
        second = p.rate[k] * p.second[k]
        groups: list[LevelKnapsacks] = []
        # Only the loosest regimes matter here: front-end segment 0 has the largest latency budgets
        # (relaxed: load 0), and the top utilisation segment the largest ceiling; every other regime's
        # knapsacks are dominated by theirs (smaller capacities, same or fewer items).
        top = max((m.util_hi for m in acc.modes), default=0.0)
        for mode in acc.modes:
            if mode.fe > 0 or (not mode.threshold and mode.util_hi < top):
                continue
            if mode.threshold:
                for chain in mode.chains:
                    pos = np.searchsorted(k, chain.pairs)
                    groups.append(LevelKnapsacks(pos, chain.level_of, load[pos][None, :], chain.values.astype(float)))
                continue
            capacity = 1000.0 * mode.util_hi
            members = [np.searchsorted(k, c.pairs) for c in mode.chains]
            if not members:
                continue
            everyone = np.unique(np.concatenate(members))
            mean_chains = [c for c in mode.chains if c.form == "fcfs_mean"]
            mean_pos = [np.searchsorted(k, c.pairs) for c in mean_chains]
            rest = np.setdiff1d(everyone, np.concatenate(mean_pos) if mean_pos else np.zeros(0, dtype=np.int64))
            if rest.size:  # sets without a mean-SLO member: the utilisation ceiling only
                groups.append(LevelKnapsacks(rest, np.full(rest.size, -1), load[rest][None, :], np.array([capacity])))
            for chain, pos in zip(mean_chains, mean_pos):
                # Sets whose tightest mean-SLO member is at level l: the row of a looser tau (the
                # group's largest) is implied, so merging levels into MAX_FCFS_LEVELS stays valid.
                cuts = np.unique(np.quantile(np.arange(chain.values.size), np.linspace(0, 1, MAX_FCFS_LEVELS + 1))[:-1])
                starts = np.unique(cuts.astype(int))
                ends = np.append(starts[1:], chain.values.size)
                taus = np.array([chain.values[e - 1] for e in ends], dtype=float)
                group_of_level = np.searchsorted(starts, np.arange(chain.values.size), side="right") - 1
                level_of = np.full(everyone.size, -1)
                where = np.searchsorted(everyone, pos)
                level_of[where] = group_of_level[chain.level_of]
                size = second[everyone][None, :] + 2.0 * taus[:, None] * load[everyone][None, :]
                groups.append(LevelKnapsacks(everyone, level_of, size, 2000.0 * taus, load[everyone], capacity))
        out[d] = groups
    return out


def _best_level(weights: np.ndarray, group: LevelKnapsacks) -> tuple[float, int, np.ndarray | None]:
    """The largest level value of a group, its level, and that level's fractional solution."""
    w = weights[group.items]
    positive = w > 0
    if not positive.any():
        return 0.0, -1, None
    levels = group.capacity.size
    allowed = positive[None, :] & ((group.level_of[None, :] >= np.arange(levels)[:, None]) | (group.level_of < 0))
    values = _level_values(w, group.size, allowed, group.capacity)
    if group.ceiling is not None and group.load is not None:
        ceiling = _level_values(w, group.load[None, :], allowed, np.full(levels, group.ceiling))
        values = np.minimum(values, ceiling)
    level = int(np.argmax(values))
    if values[level] <= 0:
        return 0.0, -1, None
    size = group.size[level if group.size.shape[0] > 1 else 0]
    value, x = _fractional(w, size, allowed[level], float(group.capacity[level]))
    if group.ceiling is not None and group.load is not None:
        # the binding knapsack's solution is the sub-gradient's
        ceiling_value, ceiling_x = _fractional(w, group.load, allowed[level], group.ceiling)
        if ceiling_value < value:
            x = ceiling_x
    return float(values[level]), level, x


def _level_values(w: np.ndarray, size: np.ndarray, allowed: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Dantzig's fractional-knapsack value for every level at once (rows of ``allowed``).

    When every level shares the sizes (one row in ``size``) the items are sorted once and each
    level is a masked prefix of that order; otherwise each level sorts its own ratios.
    """
    if size.shape[0] == 1:
        sz = np.maximum(size[0], FEASIBILITY_EPS)
        order = np.argsort(-w / sz, kind="stable")
        return _prefix_values(w[order], sz[order], allowed[:, order], capacity)
    out = np.zeros(allowed.shape[0])
    for level in range(allowed.shape[0]):
        sz = np.maximum(size[level], FEASIBILITY_EPS)
        order = np.argsort(-w / sz, kind="stable")
        out[level] = _prefix_values(
            w[order], sz[order], allowed[level : level + 1, order], capacity[level : level + 1]
        )[0]
    return out


def _prefix_values(w: np.ndarray, sz: np.ndarray, mask: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Per row of ``mask`` (items already in ratio order): take allowed items greedily up to the capacity."""
    levels, n = mask.shape
    sizes = np.where(mask, sz[None, :], 0.0)
    cum = np.cumsum(sizes, axis=1)
    cumw = np.cumsum(np.where(mask, w[None, :], 0.0), axis=1)
    out = np.zeros(levels)
    for level in range(levels):
        cap = capacity[level]
        if cap <= 0:
            continue
        full = int(np.searchsorted(cum[level], cap, side="right"))  # items [0, full) fit entirely
        value = float(cumw[level, full - 1]) if full else 0.0
        if full < n:
            nxt = np.flatnonzero(mask[level, full:])
            if nxt.size:
                j = full + int(nxt[0])
                used = float(cum[level, j - 1]) if j else 0.0
                value += max(0.0, min(1.0, (cap - used) / sz[j])) * float(w[j])
        out[level] = value
    return out


def _fractional(w: np.ndarray, size: np.ndarray, allowed: np.ndarray, capacity: float) -> tuple[float, np.ndarray]:
    """max w.x s.t. size.x <= capacity, 0 <= x <= 1, x = 0 outside ``allowed`` (Dantzig's greedy)."""
    x = np.zeros(w.size)
    if capacity <= 0:
        return 0.0, x
    idx = np.flatnonzero(allowed)
    sz = np.maximum(size[idx], FEASIBILITY_EPS)
    order = idx[np.argsort(-w[idx] / sz, kind="stable")]
    cum = np.cumsum(np.maximum(size[order], FEASIBILITY_EPS))
    full = int(np.searchsorted(cum, capacity, side="right"))
    x[order[:full]] = 1.0
    value = float(np.sum(w[order[:full]]))
    if full < order.size:
        j = order[full]
        used = float(cum[full - 1]) if full else 0.0
        fraction = max(0.0, min(1.0, (capacity - used) / max(size[j], FEASIBILITY_EPS)))
        x[j] = fraction
        value += fraction * float(w[j])
    return value, x


def lagrangian_bound(
    am: AssignmentModel, weights_by_pair: np.ndarray, target: float, time_limit_s: float, iterations: int = 400
) -> tuple[float | None, dict]:
    """Best Lagrangian bound on ``max sum_pairs w x`` found within the limit (None if none computed).

    The multipliers start at 0 and follow Polyak sub-gradient steps aimed at ``target`` (halved after
    ten steps without a better bound).
    """
    started = time.monotonic()
    p = am.data.pairs
    n_apps = len(am.data.app_names)
    sacks = knapsacks(am)

    def evaluate_at(mu: np.ndarray) -> tuple[float, np.ndarray]:
        reduced = weights_by_pair - mu[p.app]
        usage = np.zeros(n_apps)
        total = float(mu.sum())
        for d, groups in sacks.items():
            k = am.accelerators[d].pairs
            w = reduced[k]
            best_value, chosen = 0.0, None
            for group in groups:
                value, _, x = _best_level(w, group)
                if value > best_value and x is not None:
                    best_value, chosen = value, (group.items, x)
            total += best_value
            if chosen is not None:
                items, xs = chosen
                np.add.at(usage, p.app[k[items]], xs)
        return total, usage

    def expired() -> bool:
        return time.monotonic() - started > time_limit_s

    history: list[float] = []
    best: float | None = None
    best_mu = np.zeros(n_apps)
    mu = best_mu.copy()
    theta = 1.0
    stalled = 0
    for _ in range(iterations):
        if expired():
            break
        total, usage = evaluate_at(mu)
        history.append(total)
        if best is None or total < best:
            best, best_mu = total, mu.copy()
            stalled = 0
        else:
            stalled += 1
            if stalled >= 10:
                theta /= 2.0
                stalled = 0
        gradient = 1.0 - usage
        gradient[(mu <= 0) & (gradient > 0)] = 0.0
        norm = float(gradient @ gradient)
        if norm <= 1e-12 or theta < 1e-4:
            break
        step = theta * max(total - target, 1e-6 * max(1.0, abs(total))) / norm
        mu = np.maximum(0.0, mu - step * gradient)
    return best, {"evaluations": len(history), "seconds": round(time.monotonic() - started, 3)}
