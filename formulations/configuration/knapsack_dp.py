"""Dynamic programming for pricing subproblems that are plain 0-1 knapsacks over integral weights.

The branch and bound of ``pricing.Knapsack`` is fast when profits and weights are loosely
correlated, and exponential when they are strongly correlated, which is what column generation
produces on bin packing (duals near proportional to the weights) and on tight GAP agents. There a
dynamic program over the capacity is exact and takes ``O(items x capacity)`` vectorised steps.

A subproblem qualifies (:func:`plain_knapsack`) when

* every row of the subproblem is a multiple of one weight vector (utilisation; a PS SLO row
  ``rho <= rho*`` is one), so one capacity, the smallest, binds;
* the weights are integer multiples of one unit up to floating-point noise (converted benchmark
  data: ``u * r / b``), found by rational reconstruction, and ``items x capacity`` stays small;
* memory cannot bind (all candidates with all their backends fit), no backend carries a cost, the
  discipline is not dedicated, and the scenario has no prepaid backends or final row.

Integer weights make the capacity test exact: a set is kept when ``sum W <= floor(cap / unit)``,
i.e. when its exact rational load is within the capacity; the scenario's capacity is widened by
``RELAX`` (far less than one unit), so no set within the true capacity is lost. Columns are still
checked exactly (``SetChecker``) before they enter the master.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from optplace.domain import Discipline
from optplace.formulations.configuration.build import AcceleratorClass

EPS = 1e-9
MAX_DENOMINATOR = 100_000  # rational reconstruction of weight ratios
MAX_UNITS = 200_000  # capacity in units, at most
MAX_CELLS = 40_000_000  # items x (capacity + 1) of the decision table
NOISE = 1e-12  # relative: a ratio within this of a fraction is that fraction
PROPORTIONAL = 1e-9  # rows proportional within this relative error are one row


class PlainKnapsack:
    """One qualifying subproblem: integer weights, one capacity, profits, a forced item's base value."""

    def __init__(self, items: np.ndarray, weights: np.ndarray, capacity: int, profit: np.ndarray, base: float):
        self.items = items  # class-local candidates with positive profit
        self.weights = weights  # integer weight per candidate
        self.capacity = capacity  # integer capacity left after the forced item
        self.profit = profit  # profit per candidate
        self.base = base  # the forced item's profit less its backend's cost (0 without one)

    @property
    def work(self) -> int:
        """Cells of the table: the unit of work of this solve."""
        return len(self.items) * (self.capacity + 1)

    def solve(self, floor: float, keep: int) -> tuple[float, list[tuple[float, list[int]]]]:
        """Best value above ``floor`` and up to ``keep`` distinct good sets (class-local candidates chosen).

        The sets are the best set within each of the capacities where the optimum value steps down,
        best first: the optimum and near-optimal, different sets, which column generation likes.
        """
        n, cap = len(self.items), self.capacity
        best = np.zeros(cap + 1)
        take = np.zeros((n, cap + 1), dtype=bool)
        for j in range(n):
            w, p = int(self.weights[j]), float(self.profit[j])
            if w > cap:
                continue
            if w == 0:
                best += p
                take[j, :] = True
                continue
            candidate = best[: cap + 1 - w] + p
            better = candidate > best[w:] + 1e-12
            take[j, w:] = better
            best[w:] = np.where(better, candidate, best[w:])
        out: list[tuple[float, list[int]]] = []
        seen: set[tuple[int, ...]] = set()
        # capacities where the value changes, highest value first
        steps = np.flatnonzero(np.diff(best, prepend=-np.inf) > 1e-12)[::-1]
        for c in steps[: 4 * keep]:
            value = self.base + float(best[c])
            if value <= floor + EPS:
                break
            chosen = self._trace(take, int(c))
            key = tuple(chosen)
            if key in seen:
                continue
            seen.add(key)
            out.append((value, chosen))
            if len(out) >= keep:
                break
        top = self.base + float(best[cap])
        return (top if top > floor + EPS else floor), out

    def _trace(self, take: np.ndarray, c: int) -> list[int]:
        chosen = []
        for j in range(len(self.items) - 1, -1, -1):
            if take[j, c]:
                chosen.append(int(self.items[j]))
                c -= int(self.weights[j])
        return sorted(chosen)


def _unit(values: np.ndarray) -> float | None:
    """The largest unit every positive value is an integer multiple of (up to noise), or None."""
    positive = values[values > 0]
    if positive.size == 0:
        return None
    top = float(positive.max())
    denominator = 1
    for v in np.unique(positive):
        ratio = Fraction(float(v) / top).limit_denominator(MAX_DENOMINATOR)
        if abs(float(ratio) * top - float(v)) > NOISE * top:
            return None
        denominator = denominator * ratio.denominator // math.gcd(denominator, ratio.denominator)
        if denominator > MAX_UNITS:
            return None
    return top / denominator


_UNITS: dict[bytes, float | None] = {}  # a row's unit, by the row's bytes (rows repeat every round)


def _row_unit(row: np.ndarray) -> float | None:
    """:func:`_unit` of a whole weight row, cached: the rational reconstruction is the costly part."""
    key = np.ascontiguousarray(row, dtype=np.float64).tobytes()
    if key not in _UNITS:
        if len(_UNITS) > 4096:
            _UNITS.clear()
        _UNITS[key] = _unit(np.asarray(row, dtype=np.float64))
    return _UNITS[key]


def plain_knapsack(
    cls: AcceleratorClass,
    rows: list[np.ndarray],
    caps: list[float],
    forced: int | None,
    candidates: np.ndarray,
    profit: np.ndarray,
    group_cost: np.ndarray,
    *,
    combo: object,
    final: object,
) -> PlainKnapsack | None:
    """The subproblem as a :class:`PlainKnapsack`, or None when it does not qualify (module docstring)."""
    if combo is not None or final is not None or cls.discipline == Discipline.DEDICATED or not rows:
        return None
    cand = candidates[profit[candidates] > EPS]
    everyone = cand if forced is None else np.append(cand, forced)
    if everyone.size == 0:
        return None
    groups = np.unique(cls.group[everyone])
    if np.any(group_cost[groups] > EPS):
        return None
    backend_mb = float(cls.group_memory_mb[groups].sum())
    node_mb = float(cls.frontend_memory_mb[everyone].sum()) + (backend_mb if cls.backend_memory_on_node else 0.0)
    if node_mb > cls.node_memory_limit_mb or (
        not cls.backend_memory_on_node and backend_mb > (cls.device_memory_limit_mb or 0.0)
    ):
        return None
    base_row = rows[0][everyone]
    capacity = float(caps[0])
    for row, cap in zip(rows[1:], caps[1:]):
        values = row[everyone]
        scale = np.divide(values, base_row, out=np.full(values.shape, np.nan), where=base_row > 0)
        if np.any((base_row == 0) & (values != 0)):
            return None
        factor = np.nanmax(scale) if np.any(~np.isnan(scale)) else 0.0
        if factor <= 0:
            if cap < 0:
                return None
            continue
        if np.nanmax(np.abs(scale - factor)) > PROPORTIONAL * factor:
            return None
        capacity = min(capacity, float(cap) / factor)
    unit = _row_unit(rows[0])
    if unit is None:
        return None
    weights = np.rint(rows[0][cand] / unit).astype(np.int64)
    total_units = math.floor(capacity / unit * (1.0 + NOISE))
    if forced is not None:
        total_units -= round(float(rows[0][forced]) / unit)
    if total_units < 0:
        return None
    total_units = min(total_units, int(weights.sum()))
    if total_units > MAX_UNITS or len(cand) * (total_units + 1) > MAX_CELLS:
        return None
    base = 0.0
    if forced is not None:
        base = float(profit[forced]) - float(group_cost[cls.group[forced]])
    return PlainKnapsack(cand.astype(np.intp), weights, int(total_units), profit[cand], base)
