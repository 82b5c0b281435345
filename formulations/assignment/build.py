"""build(): the compact assignment MILP with per-accelerator "tightest member" chains (see model.md).

The model is built in one of two *modes* from the same code:

* ``conservative`` (default): every solution is feasible under the exact analytic model. The
  nonlinear terms (switch overhead, front-end delay, percentile and additive-PS factors) are
  bounded from above, level merging rounds towards the tighter member, and a relative safety
  margin on latency budgets absorbs solver tolerances. When none of these approximations is needed the model is
  exact (``AssignmentModel.exact``) and its dual bound is a bound on the true optimum.
* ``relaxed``: every truly feasible placement is a solution. The same terms are bounded from
  below, so the optimum (or the solver's dual bound) is a valid bound on the true optimum.

A *reference* placement (the warm start, or the incumbent of an earlier round) is always
representable in the conservative model: breakpoints are placed at its loads, the switch tangent
at its class shares, and its tightest members are kept as their own levels. That is the
refinement step of model.md: re-building around a better incumbent can only improve.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from optplace.backends.linear import INF, LinearModel, ModelBuilder
from optplace.domain import Discipline, Objective

from .data import Accelerator, InstanceData
from .queueing import fcfs_single_threshold, frontend_delay_ms, kappa, ps_threshold, tail_factor

Mode = Literal["conservative", "relaxed"]


@dataclass(frozen=True)
class BuildOptions:
    """Knobs of the formulation; the defaults are what the exact methods use."""

    mode: Mode = "conservative"
    max_levels: int = 16  # tightest-member levels per chain; more distinct slacks are merged (see model.md)
    frontend_segments: int = 4  # front-end load segments per node with pre-processing
    utilization_segments: int = 4  # utilisation segments where a factor depends on rho (percentiles, additive PS)
    switch_share: float = 1.0 / 3.0  # tangent point of the switch bound for a class absent from the reference
    switch_tangents: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # tangent shares to choose from
    margin: float = 1e-9  # relative safety margin on latency budgets (capacities are exact linear sums)
    symmetry: bool = True  # order identical accelerators: used ones first
    symmetry_load: bool = False  # and by load (measured slower with HiGHS and CP-SAT; see model.md)
    max_cocompilation_groups: int = 8  # co-compilation regimes per accelerator (conservative; see model.md 3.9)
    reference: dict[str, str] | None = None  # placement the conservative model must contain

    @classmethod
    def from_options(cls, options: dict[str, Any], **overrides: Any) -> BuildOptions:
        known = {k: options[k] for k in cls.__dataclass_fields__ if k in options and k != "reference"}
        return cls(**{**known, **overrides})


@dataclass
class Chain:
    """Applications of one accelerator mode whose SLO rows share a form, ordered tightest first."""

    form: str  # threshold | fcfs_mean | fcfs_pct | ps_add | ps_cap
    pairs: np.ndarray  # pair indices in this chain
    level_of: np.ndarray  # level index per entry of pairs
    values: np.ndarray  # per level: capacity on U (threshold) or the slack tau / T
    alpha: float = 0.0  # the rho-dependent factor of fcfs_pct / ps_add rows
    vars: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # per entry: a second, mean-latency requirement (the front-end occupancy limit) of a pair whose SLO is a
    # percentile; it joins the pair's x_le_occupancy row, not its x_le_level row (model.md 3.10)
    secondary: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


@dataclass
class AccMode:
    """One regime of an accelerator: front-end segment, utilisation segment, single or several backends."""

    fe: int  # node front-end segment index, -1 when the node has none
    util_lo: float
    util_hi: float
    single: bool  # at most one backend (no switch is paid)
    threshold: bool  # every row is "U <= capacity of the tightest member"
    chains: list[Chain]
    var: int = -1  # mode indicator m (for threshold modes: the top level of its one chain)
    group: int = -1  # co-compilation group the device runs in this regime (-1: compiled apart)
    switch_aux: tuple[str, str] = ("Asw", "Usw")  # the switch load terms of its rows


@dataclass
class AccModel:
    """Per-accelerator variables and modes, kept for encode() and for tests."""

    index: int
    pairs: np.ndarray
    classes: np.ndarray  # class id per pair: the model index if shareable, else -(pair + 1)
    modes: list[AccMode]
    aux: dict[str, int]  # U, A, L, Asw, Usw -> column
    h_vars: dict[int, int]  # shareable model -> H column
    tangent: dict[int, list[tuple[float, int]]]  # shareable model -> [(tangent share, binary that picks it)]
    dominant: dict[str, Any] = field(default_factory=dict)  # relaxed switch bound: delta per class, L_dom, H_tot


@dataclass
class AssignmentModel:
    """A built model with everything needed to read solutions back and to write warm starts."""

    model: LinearModel
    data: InstanceData
    options: BuildOptions
    x: np.ndarray  # column of each pair
    y: np.ndarray  # column of each accelerator
    z: dict[tuple[int, int], int]  # (model, accelerator) -> column
    e: dict[tuple[int, int], int]  # (node, segment) -> column
    node_segments: dict[int, list[tuple[float, float]]]
    accelerators: dict[int, AccModel]
    objectives: dict[str, tuple[np.ndarray, float]]  # name -> (coefficients, constant), natural sense
    exact: bool
    approximations: list[str]
    symmetry_groups: list[list[int]]
    row_owner: np.ndarray  # accelerator whose regime a row belongs to, -1 for global rows
    stats: dict[str, Any]

    def objective(self, objective: Objective) -> tuple[np.ndarray, float]:
        return self.objectives[objective.value]


@dataclass
class _Device:
    """The accelerator being built: its candidate pairs' data, big-M bounds, and the terms its families share."""

    acc: Accelerator
    k: np.ndarray  # its candidate pairs (sorted)
    x: np.ndarray  # their columns
    lam: np.ndarray
    s: np.ndarray
    o: np.ndarray  # switch overheads compiled apart
    q: np.ndarray  # SLO quantile per pair, NaN for a mean SLO
    classes: np.ndarray  # class id per pair: the model index if shareable, else -(pair + 1)
    multi_possible: bool  # two or more backends are possible
    has_switch: bool
    charge_switch: bool  # conservative FCFS with switch overheads: the H bounds are charged
    quantiles: list[float]
    fe_segments: list[tuple[float, float]] | None  # the node's front-end load segments, if it pre-processes
    fe_list: list[int]
    ref_local: np.ndarray  # positions in k of the reference placement's pairs
    u_max: float  # 1000 x the utilisation cap
    lam_max: float  # the largest total rate the cap allows
    a_max: float  # the largest second-moment load
    occupied: np.ndarray  # per pair: a synchronous front end bounds its mean (model.md 3.10)
    aux: dict[str, int] = field(default_factory=dict)  # U, A, L, Asw, Usw... -> column
    h_vars: dict[int, int] = field(default_factory=dict)
    tangent: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    dominant: dict[str, Any] = field(default_factory=dict)
    asw_max: float = 0.0
    usw_max: float = 0.0
    group_switch: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # group -> (member, overheads)


def build(data: InstanceData, options: BuildOptions | None = None) -> AssignmentModel:
    """Variables, constraints and every objective vector of the assignment formulation."""
    return _Builder(data, options or BuildOptions()).run()


class _Builder:
    def __init__(self, data: InstanceData, options: BuildOptions):
        self.data = data
        self.opt = options
        self.cons = options.mode == "conservative"
        self.b = ModelBuilder()
        self.rows: dict[str, list] = defaultdict(list)  # family -> [(cols, vals, lo, hi, indicator, relax, owner)]
        self.owner = -1  # accelerator whose rows are being written (for encode), -1 for global rows
        self.row_owner: list[np.ndarray] = []
        self.approximations: set[str] = set()
        self.reference = self._reference(options.reference)

    # --- reference placement ----------------------------------------------------------------

    def _reference(self, placement: dict[str, str] | None) -> dict[int, np.ndarray]:
        """Accelerator -> pair indices it hosts in the reference placement."""
        if not placement:
            return {}
        lookup = self.data.pair_lookup()
        out: dict[int, list[int]] = defaultdict(list)
        for app, acc in placement.items():
            a, d = self.data.app_index.get(app), self.data.acc_index.get(acc)
            if a is not None and d is not None and (a, d) in lookup:
                out[d].append(lookup[(a, d)])
        return {d: np.asarray(sorted(v), dtype=np.int64) for d, v in out.items()}

    # --- rows ----------------------------------------------------------------------------------

    def row(
        self,
        family: str,
        cols: np.ndarray | list,
        vals: np.ndarray | list,
        lo: float,
        hi: float,
        indicator: int = -1,
        relax: list[tuple[int, float]] | None = None,
    ) -> None:
        self.rows[family].append(
            (
                np.asarray(cols, dtype=np.int64),
                np.asarray(vals, dtype=np.float64),
                lo,
                hi,
                indicator,
                relax or [],
                self.owner,
            )
        )

    def flush_rows(self) -> None:
        for family, items in self.rows.items():
            count = len(items)
            lengths = np.array([c.size for c, *_ in items], dtype=np.int64)
            local = np.repeat(np.arange(count), lengths)
            cols = np.concatenate([c for c, *_ in items]) if count else np.zeros(0, dtype=np.int64)
            vals = np.concatenate([v for _, v, *_ in items]) if count else np.zeros(0)
            lo = np.array([it[2] for it in items], dtype=np.float64)
            hi = np.array([it[3] for it in items], dtype=np.float64)
            indicator = np.array([it[4] for it in items], dtype=np.int64)
            relax_items = [(r, c, m) for r, it in enumerate(items) for c, m in it[5]]
            relax = None
            if relax_items:
                rr, rc, rm = (np.array(v) for v in zip(*relax_items))
                relax = (rr, rc, rm)
            self.b.add_rows(
                family,
                local,
                cols,
                vals,
                lo,
                hi,
                count,
                indicator=indicator if (indicator >= 0).any() else None,
                relax=relax,
            )
            self.row_owner.append(np.array([it[6] for it in items], dtype=np.int64))
        self.rows.clear()

    def vectorised_rows(self, family: str, local: np.ndarray, cols: np.ndarray, vals: np.ndarray, lo, hi, count: int):
        self.b.add_rows(family, local, cols, vals, lo, hi, count)
        self.row_owner.append(np.full(count, self.owner, dtype=np.int64))

    def define(self, name: str, var: int, cols: np.ndarray, vals: np.ndarray) -> None:
        self.b.define(name, var, cols, vals)
        self.row_owner.append(np.full(1, self.owner, dtype=np.int64))

    # --- the model --------------------------------------------------------------------------------

    def run(self) -> AssignmentModel:
        data, b = self.data, self.b
        p = data.pairs
        n_acc = len(data.accelerators)
        pinned = np.zeros(p.size)
        lookup = data.pair_lookup()
        for a_index, app in enumerate(data.instance.applications):
            key = (a_index, data.acc_index.get(app.current_accelerator or "", -1))
            if app.pinned and key in lookup:
                pinned[lookup[key]] = 1.0
        x = b.add_vars("x", p.size, lower=pinned)  # x[k] is pair k: data.pairs.app[k] on data.pairs.acc[k]
        y = b.add_vars("y", n_acc, labels=[(acc.name,) for acc in data.accelerators])
        self.x, self.y = x, y

        # z[m, d]: a backend of shareable model m is open on d.
        shared = np.flatnonzero(p.shareable)
        codes = p.model[shared] * n_acc + p.acc[shared]
        unique_codes, z_of_shared = np.unique(codes, return_inverse=True)
        z_keys = [(int(c // n_acc), int(c % n_acc)) for c in unique_codes]
        z_cols = b.add_vars(
            "z", len(z_keys), labels=[(data.model_names[m], data.accelerators[d].name) for m, d in z_keys]
        )
        self.z = {key: int(col) for key, col in zip(z_keys, z_cols)}
        pair_z = np.full(p.size, -1, dtype=np.int64)
        pair_z[shared] = z_cols[z_of_shared]
        self.pair_z = pair_z
        self.z_row_of_pair = np.full(p.size, -1, dtype=np.int64)
        self.z_row_of_pair[shared] = z_of_shared  # row of z_le_sum_x, in z_keys order

        self._assignment_rows()
        self._linking_rows()
        self.node_segments = self._node_segments()
        self.e = {}
        for n, segments in self.node_segments.items():
            cols = b.add_vars("e", len(segments), labels=[(data.nodes[n].name, k) for k in range(len(segments))])
            for k, col in enumerate(cols):
                self.e[(n, k)] = int(col)
        self.acc_models: dict[int, AccModel] = {}
        for acc in data.accelerators:
            if acc.pairs.size:
                self.flush_rows()  # keep the row order aligned with row_owner
                self.owner = acc.index
                self.acc_models[acc.index] = self._accelerator(acc)
                self.flush_rows()
                self.owner = -1
        self._frontend_rows()
        self._memory_rows()
        groups = self._symmetry_rows() if self.opt.symmetry else []
        self._aggregate_rows()
        self.flush_rows()
        objectives = self._objectives()
        model = b.build()
        exact = not self.approximations
        return AssignmentModel(
            model=model,
            data=data,
            options=self.opt,
            x=x,
            y=y,
            z=self.z,
            e=self.e,
            node_segments=self.node_segments,
            accelerators=self.acc_models,
            objectives=objectives,
            exact=exact,
            approximations=sorted(self.approximations),
            symmetry_groups=groups,
            row_owner=np.concatenate(self.row_owner) if self.row_owner else np.zeros(0, dtype=np.int64),
            stats={
                "variables": model.num_vars,
                "binaries": int(model.integer.sum()),
                "rows": model.num_rows,
                "nonzeros": int(model.A.nnz + (model.relax.nnz if model.relax is not None else 0)),
                "pairs": int(p.size),
                "mode": self.opt.mode,
            },
        )

    def _assignment_rows(self) -> None:
        data, p = self.data, self.data.pairs
        apps_with_pairs, row_of_pair = np.unique(p.app, return_inverse=True)
        lower = 1.0 if data.instance.host_all else -INF
        self.vectorised_rows("assign", row_of_pair, self.x, np.ones(p.size), lower, 1.0, apps_with_pairs.size)

    def _linking_rows(self) -> None:
        p, x, y, pair_z = self.data.pairs, self.x, self.y, self.pair_z
        # x <= z (shareable) or x <= y (own backend)
        target = np.where(pair_z >= 0, pair_z, y[p.acc])
        n = p.size
        self.vectorised_rows(
            "x_le_backend",
            np.repeat(np.arange(n), 2),
            np.column_stack([x, target]).ravel(),
            np.tile([1.0, -1.0], n),
            -INF,
            0.0,
            n,
        )
        keys = list(self.z)
        if not keys:
            return
        zc = np.array([self.z[k] for k in keys])
        yd = y[np.array([d for _, d in keys])]
        k = len(keys)
        self.vectorised_rows(
            "z_le_y",
            np.repeat(np.arange(k), 2),
            np.column_stack([zc, yd]).ravel(),
            np.tile([1.0, -1.0], k),
            -INF,
            0.0,
            k,
        )
        # z <= sum of its applications' x (a backend is open only if used)
        shareable = np.flatnonzero(pair_z >= 0)
        rows_of = self.z_row_of_pair[shareable]
        self.vectorised_rows(
            "z_le_sum_x",
            np.concatenate([np.arange(k), rows_of]),
            np.concatenate([zc, x[shareable]]),
            np.concatenate([np.ones(k), -np.ones(shareable.size)]),
            -INF,
            0.0,
            k,
        )

    # --- front-end segments -------------------------------------------------------------------

    def _node_segments(self) -> dict[int, list[tuple[float, float]]]:
        data, p = self.data, self.data.pairs
        out: dict[int, list[tuple[float, float]]] = {}
        ref_load = self._reference_node_loads()
        for node in data.nodes:
            members = np.concatenate([data.accelerators[d].pairs for d in node.accelerators])
            busy = members[p.preprocess[members] > 0]
            if busy.size == 0:
                continue
            _apps, first = np.unique(p.app[busy], return_index=True)
            rows = busy[first]
            fmax = min(0.999, float(np.sum(p.rate[rows] * p.preprocess[rows]) / 1000.0 / node.cores))
            k = max(1, self.opt.frontend_segments)
            points = {fmax * (i + 1) / k for i in range(k)}
            if node.index in ref_load and 0.0 < ref_load[node.index] < fmax:
                points.add(ref_load[node.index])
            ordered = sorted(points)
            out[node.index] = list(zip([0.0, *ordered[:-1]], ordered))
            self.approximations.add("front-end delay bounded per node load segment")
        return out

    def _reference_node_loads(self) -> dict[int, float]:
        p = self.data.pairs
        loads: dict[int, float] = defaultdict(float)
        for d, hosted in self.reference.items():
            node = self.data.accelerators[d].node
            loads[node] += float(np.sum(p.rate[hosted] * p.preprocess[hosted]) / 1000.0)
        return {n: v / self.data.nodes[n].cores for n, v in loads.items()}

    def _frontend_rows(self) -> None:
        p = self.data.pairs
        for n, segments in self.node_segments.items():
            node = self.data.nodes[n]
            members = np.concatenate([self.data.accelerators[d].pairs for d in node.accelerators])
            busy = members[p.preprocess[members] > 0]
            load = p.rate[busy] * p.preprocess[busy] / 1000.0 / node.cores
            e_cols = [self.e[(n, k)] for k in range(len(segments))]
            his = [hi for _, hi in segments]
            self.row("frontend_load", [*self.x[busy], *e_cols], [*load, *(-np.array(his))], -INF, 0.0)
            self.row("frontend_one_segment", e_cols, np.ones(len(e_cols)), -INF, 1.0)
            if not self.cons:
                los = [lo for lo, _ in segments]
                self.row("frontend_load_lower", [*self.x[busy], *e_cols], [*load, *(-np.array(los))], 0.0, INF)
            for d in node.accelerators:
                am = self.acc_models.get(d)
                if am is None:
                    continue
                for k in range(len(segments)):
                    mode_vars = [m.var for m in am.modes if m.fe == k]
                    if mode_vars:
                        self.row(
                            "frontend_mode_link", [*mode_vars, e_cols[k]], [*np.ones(len(mode_vars)), -1.0], -INF, 0.0
                        )

    # --- one accelerator ----------------------------------------------------------------------

    def _accelerator(self, acc) -> AccModel:
        """One accelerator's variables and rows, family by family (model.md section 3)."""
        dev = self._device(acc)
        self._switch_terms(dev)
        self._cocompilation_terms(dev)
        modes = self._modes(dev)
        self._mode_selection_rows(dev, modes)
        self._capacity_row(dev, modes)
        self._backend_count_rows(dev)
        self._cocompiled_distinct_rows(dev, modes)
        self._mode_rows(dev, modes)
        self._fcfs_loosest_slack_row(dev)
        return AccModel(acc.index, dev.k, dev.classes, modes, dev.aux, dev.h_vars, dev.tangent, dev.dominant)

    def _device(self, acc) -> _Device:
        """The accelerator's candidate pairs, their data, and the bounds its big-M values use."""
        p = self.data.pairs
        k = acc.pairs
        lam, s, o = p.rate[k], p.service[k], p.switch[k]
        q = p.quantile[k]
        classes = np.where(p.shareable[k], p.model[k], -(k + 1))
        multi_possible = np.unique(classes).size >= 2
        has_switch = multi_possible and bool(np.any(o > 0))
        fe_segments = self.node_segments.get(acc.node) if np.any(p.preprocess[k] > 0) else None
        ref = self.reference.get(acc.index, np.zeros(0, dtype=np.int64))
        u_max = 1000.0 * acc.cap
        # Largest total rate the cap allows (fractional knapsack), for big-M values.
        order = np.argsort(s)
        cum = np.cumsum(lam[order] * s[order])
        lam_max = float(np.sum(lam[order][cum <= u_max]))
        over = np.flatnonzero(cum > u_max)
        if over.size:
            j = order[over[0]]
            used = cum[over[0]] - lam[j] * s[j]
            lam_max += (u_max - used) / s[j]
        dev = _Device(
            acc=acc,
            k=k,
            x=self.x[k],
            lam=lam,
            s=s,
            o=o,
            q=q,
            classes=classes,
            multi_possible=multi_possible,
            has_switch=has_switch,
            charge_switch=self.cons and has_switch and acc.discipline == Discipline.FCFS,
            quantiles=sorted(set(q[~np.isnan(q)].tolist())),
            fe_segments=fe_segments,
            fe_list=list(range(len(fe_segments))) if fe_segments else [-1],
            ref_local=np.flatnonzero(np.isin(k, ref)),
            u_max=u_max,
            lam_max=lam_max,
            a_max=u_max * float(np.max(p.second[k] / s)),
            occupied=np.isfinite(p.occupancy[k]),
        )
        self._new_aux(dev, "U", dev.x, lam * s)
        return dev

    def _new_aux(self, dev: _Device, name: str, cols: np.ndarray, vals: np.ndarray, upper: float = INF) -> int:
        """A continuous variable of the accelerator defined as a linear expression (U, A, Asw, ...)."""
        (col,) = self.b.add_vars(name, 1, lower=0.0, upper=upper, integer=False, labels=[(dev.acc.name,)])
        self.define(f"define_{name}", int(col), cols, vals)
        dev.aux[name] = int(col)
        return int(col)

    def _budgets(
        self, dev: _Device, fe: int, limit: np.ndarray | None = None, statistic: np.ndarray | None = None
    ) -> np.ndarray:
        """Accelerator budgets: SLO (or ``limit``) less network and front-end delay (in ``statistic``)."""
        p, k = self.data.pairs, dev.k
        slo = (p.slo[k] if limit is None else limit) - self.data.network_ms
        if fe >= 0 and dev.fe_segments is not None:
            lo, hi = dev.fe_segments[fe]
            pre = frontend_delay_ms(p.preprocess[k], hi if self.cons else lo, dev.q if statistic is None else statistic)
            slo = slo - pre
        return slo * (1.0 - self.opt.margin) if self.cons else slo * (1.0 + self.opt.margin)

    def _occupancy_budgets(self, dev: _Device, fe: int) -> np.ndarray:
        """A percentile-SLO pair's synchronous front end bounds its mean latency too (model.md 3.10)."""
        occupied = dev.occupied
        mean_statistic = np.full(dev.k.size, np.nan)
        limit = np.where(occupied, self.data.pairs.occupancy[dev.k], 0.0)
        return np.where(occupied, self._budgets(dev, fe, limit, mean_statistic), np.inf)

    def _switch_terms(self, dev: _Device) -> None:
        """FCFS switch load: lower bounds in the relaxed model (_relaxed_switch); in the conservative one
        the bound H_i >= (1 - t)^2 lambda_i + t^2 Lambda_{-i} >= lambda_i p_i on each model's switch rate."""
        data, opt, b = self.data, self.opt, self.b
        acc, x, lam, s, o, classes = dev.acc, dev.x, dev.lam, dev.s, dev.o, dev.classes
        lam_max = dev.lam_max
        if dev.has_switch and acc.discipline == Discipline.FCFS and not self.cons:
            dev.asw_max, dev.usw_max = self._relaxed_switch(
                acc,
                dev.k,
                x,
                lam,
                s,
                o,
                data.pairs.switch_least[dev.k],
                classes,
                lam_max,
                lambda *args: self._new_aux(dev, *args),
                dev.dominant,
            )
        if not dev.charge_switch:
            return
        self.approximations.add("fcfs switch probability bounded by a tangent (or by 1 for unshared models)")
        ref_rates: dict[int, float] = defaultdict(float)
        for j in dev.ref_local:
            ref_rates[int(classes[j])] += float(lam[j])
        ref_total = sum(ref_rates.values())
        models_here = sorted({int(c) for c in classes if c >= 0})
        coef_a, coef_u = [], []
        sum_t2 = 0.0
        for m in models_here:
            rows = np.flatnonzero(classes == m)
            if ref_rates.get(m, 0.0) > 0 and len(ref_rates) >= 2:
                t = ref_rates[m] / ref_total
            elif ref_rates.get(m, 0.0) > 0:
                t = 1.0  # alone in the reference: exact there (no switch)
            else:
                t = opt.switch_share
            # The reference's share, plus a few fixed shares the solver may pick instead (h is below
            # every tangent, so the smallest one is the best bound; a binary per tangent picks it).
            shares = sorted({round(t, 12), *(float(v) for v in opt.switch_tangents)})
            sum_t2 += max(v * v for v in shares)
            h_ub = max(max((1 - v) ** 2, v * v) for v in shares) * lam_max
            (h,) = b.add_vars("H", 1, lower=0.0, upper=h_ub, integer=False, labels=[(data.model_names[m], acc.name)])
            dev.h_vars[m] = int(h)
            z_m = self.z[(m, acc.index)]
            if len(shares) == 1:
                choices = [(shares[0], z_m)]
            else:
                picks = b.add_vars("tangent", len(shares), labels=[(data.model_names[m], acc.name, v) for v in shares])
                choices = list(zip(shares, (int(c) for c in picks)))
                self.row("one_tangent", [*picks, z_m], [*np.ones(len(shares)), -1.0], 0.0, 0.0)
            dev.tangent[m] = choices
            for v, pick in choices:
                coef = np.where(classes == m, (1 - v) ** 2, v * v) * lam
                big = max((1 - v) ** 2, v * v) * lam_max if pick != z_m else v * v * lam_max
                self.row(
                    "switch_tangent",
                    [*x, int(h)],
                    [*coef, -1.0],
                    -INF,
                    0.0,
                    indicator=pick,
                    relax=[(pick, big)],
                )
            o_m, s_m = float(o[rows[0]]), float(s[rows[0]])
            coef_a.append((int(h), 2 * o_m * s_m + o_m * o_m))
            coef_u.append((int(h), o_m))
        own = np.flatnonzero(classes < 0)
        a_cols = np.array([c for c, _ in coef_a] + list(x[own]), dtype=np.int64)
        a_vals = np.array([v for _, v in coef_a] + list((2 * o[own] * s[own] + o[own] ** 2) * lam[own]))
        u_vals = np.array([v for _, v in coef_u] + list(o[own] * lam[own]))
        self._new_aux(dev, "Asw", a_cols, a_vals)
        self._new_aux(dev, "Usw", a_cols, u_vals)
        h_sum_max = lam_max * (1.0 + sum_t2)
        dev.asw_max = float(np.max(2 * o * s + o * o)) * h_sum_max
        dev.usw_max = float(np.max(o)) * h_sum_max

    def _cocompilation_terms(self, dev: _Device) -> None:
        """Co-compilation regimes (conservative): the same switch-rate bounds H, charged the group's overheads."""
        if not dev.charge_switch:
            return
        data, p = self.data, self.data.pairs
        k, x, lam, s, classes = dev.k, dev.x, dev.lam, dev.s, dev.classes
        for g in self._cocompilation_groups(dev.acc, k, dev.ref_local):
            overheads = data.compilations.overheads[g]  # type: ignore[union-attr]
            names = [data.model_names[int(m)] for m in p.model[k]]
            member = np.array([name in overheads for name in names])
            o_g = np.array([overheads.get(name, 0.0) for name in names])
            g_cols, g_a, g_u = [], [], []
            for m, h in dev.h_vars.items():
                row = np.flatnonzero(classes == m)[0]
                if member[row]:
                    g_cols.append(h)
                    g_a.append(2 * o_g[row] * s[row] + o_g[row] ** 2)
                    g_u.append(o_g[row])
            own_in = np.flatnonzero((classes < 0) & member)
            g_cols += list(x[own_in])
            g_a += list((2 * o_g[own_in] * s[own_in] + o_g[own_in] ** 2) * lam[own_in])
            g_u += list(o_g[own_in] * lam[own_in])
            self._new_aux(dev, f"Asw@{g}", np.array(g_cols, dtype=np.int64), np.array(g_a, dtype=np.float64))
            self._new_aux(dev, f"Usw@{g}", np.array(g_cols, dtype=np.int64), np.array(g_u, dtype=np.float64))
            dev.group_switch[g] = (member, o_g)

    def _modes(self, dev: _Device) -> list[AccMode]:
        """The accelerator's latency regimes per front-end segment: capacity thresholds where one backend
        (or exact PS) makes the SLO a plain capacity, general modes per utilisation segment and
        co-compilation group otherwise."""
        p, acc, k, s = self.data.pairs, dev.acc, dev.k, dev.s
        discipline, cap, occupied = acc.discipline, acc.cap, dev.occupied
        mean_statistic = np.full(k.size, np.nan)
        modes: list[AccMode] = []
        util_segments = self._util_segments(acc, dev.ref_local, dev.lam, s, dev.o, dev.classes, dev.charge_switch)
        needs_single = (
            discipline == Discipline.DEDICATED
            or not dev.multi_possible
            or (discipline == Discipline.FCFS and dev.charge_switch)
        )
        for fe in dev.fe_list:
            budget = self._budgets(dev, fe)
            occ_budget = self._occupancy_budgets(dev, fe) if occupied.any() else None
            if discipline == Discipline.PS and self.data.ps_model == "exact":
                if dev.quantiles:
                    self.approximations.add("PS percentile thresholds bracket the no-overlap probability")
                values = 1000.0 * ps_threshold(s, budget, dev.q, p.scv[k], cap, relaxed=not self.cons)
                if occ_budget is not None:  # the mean threshold of the occupancy limit, the tighter of the two
                    values = values.copy()
                    values[occupied] = np.minimum(
                        values[occupied],
                        1000.0
                        * ps_threshold(
                            s[occupied], occ_budget[occupied], mean_statistic[occupied], p.scv[k][occupied], cap
                        ),
                    )
                modes.append(self._threshold_mode(fe, 0.0, acc.cap, False, values, dev.lam * s, k, dev.ref_local))
                continue
            if discipline in (Discipline.FCFS, Discipline.DEDICATED) and needs_single:
                values = 1000.0 * fcfs_single_threshold(s, p.second[k], budget, dev.q, p.scv[k], cap)
                if occ_budget is not None:
                    values = values.copy()
                    values[occupied] = np.minimum(
                        values[occupied],
                        1000.0
                        * fcfs_single_threshold(
                            s[occupied],
                            p.second[k][occupied],
                            occ_budget[occupied],
                            mean_statistic[occupied],
                            p.scv[k][occupied],
                            cap,
                        ),
                    )
                single = dev.multi_possible  # with one possible class the "single" side row is implied
                modes.append(self._threshold_mode(fe, 0.0, acc.cap, single, values, dev.lam * s, k, dev.ref_local))
                if discipline == Discipline.DEDICATED or not dev.multi_possible:
                    continue
            # Modes with rows that are not a plain capacity: FCFS with several backends, additive PS.
            segs = util_segments if (dev.quantiles or discipline == Discipline.PS) else [(0.0, acc.cap)]
            for group in [None, *dev.group_switch]:
                for lo, hi in segs:
                    modes.append(
                        self._general_mode(
                            acc,
                            fe,
                            lo,
                            hi,
                            budget,
                            k,
                            dev.ref_local,
                            dev.charge_switch,
                            dev.aux,
                            dev.quantiles,
                            occ_budget,
                            None if group is None else (group, *dev.group_switch[group]),
                        )
                    )
        return modes

    def _mode_selection_rows(self, dev: _Device, modes: list[AccMode]) -> None:
        """Mode indicators, one mode per used accelerator, and x[j,d] <= the sum over modes of the cumulative
        level variable of j's level; a percentile pair with a synchronous front end also <= the same sum over
        its occupancy (mean) levels (model.md 3.10)."""
        acc, k = dev.acc, dev.k
        for mode in modes:
            if mode.threshold:
                continue
            (mode.var,) = self.b.add_vars("m", 1, labels=[(acc.name, mode.fe, mode.util_hi, mode.group)])
            for chain in mode.chains:
                self.row("chain_top_le_mode", [chain.vars[-1], mode.var], [1.0, -1.0], -INF, 0.0)
        mode_vars = [m.var for m in modes]
        self.row("one_mode", [*mode_vars, int(self.y[acc.index])], [*np.ones(len(mode_vars)), -1.0], 0.0, 0.0)
        local = [np.arange(k.size)]
        cols = [self.x[k]]
        occ_pairs = k[dev.occupied]
        occ_local = [np.arange(occ_pairs.size)]
        occ_cols = [self.x[occ_pairs]]
        for mode in modes:
            for chain in mode.chains:
                main = ~chain.secondary
                local.append(np.searchsorted(k, chain.pairs[main]))  # k is sorted
                cols.append(chain.vars[chain.level_of[main]])
                if occ_pairs.size:
                    entries = np.isin(chain.pairs, occ_pairs) if mode.threshold else chain.secondary
                    occ_local.append(np.searchsorted(occ_pairs, chain.pairs[entries]))
                    occ_cols.append(chain.vars[chain.level_of[entries]])
        vals = np.concatenate([np.ones(k.size), -np.ones(sum(c.size for c in cols[1:]))])
        self.flush_rows()
        self.vectorised_rows("x_le_level", np.concatenate(local), np.concatenate(cols), vals, -INF, 0.0, k.size)
        if occ_pairs.size:
            occ_vals = np.concatenate([np.ones(occ_pairs.size), -np.ones(sum(c.size for c in occ_cols[1:]))])
            self.vectorised_rows(
                "x_le_occupancy",
                np.concatenate(occ_local),
                np.concatenate(occ_cols),
                occ_vals,
                -INF,
                0.0,
                occ_pairs.size,
            )

    def _capacity_row(self, dev: _Device, modes: list[AccMode]) -> None:
        """U <= capacity of the tightest member (threshold modes) or the segment's top (others)."""
        cap_cols, cap_vals = [dev.aux["U"]], [1.0]
        for mode in modes:
            if mode.threshold:
                if not mode.chains:
                    continue
                (chain,) = mode.chains
                c = chain.values
                diffs = c - np.append(c[1:], 0.0)
                cap_cols += list(chain.vars)
                cap_vals += list(-diffs)
            else:
                cap_cols.append(mode.var)
                cap_vals.append(-1000.0 * mode.util_hi)
        self.row("capacity", cap_cols, cap_vals, -INF, 0.0)

    def _backend_columns(self, dev: _Device) -> list[int]:
        """One column per possible backend: z of each shareable model, x of each unshared pair."""
        models_here = sorted({int(c) for c in dev.classes if c >= 0})
        return [self.z[(m, dev.acc.index)] for m in models_here] + list(dev.x[dev.classes < 0])

    def _backend_count_rows(self, dev: _Device) -> None:
        """A dedicated accelerator holds one backend; any accelerator at most max_backends."""
        acc = dev.acc
        backend_cols = self._backend_columns(dev)
        if acc.discipline == Discipline.DEDICATED and dev.multi_possible:
            self.row(
                "dedicated_one_backend",
                [*backend_cols, int(self.y[acc.index])],
                [*np.ones(len(backend_cols)), -1.0],
                -INF,
                0.0,
            )
        elif acc.max_backends is not None and len(backend_cols) > acc.max_backends:
            self.row(
                "max_backends",
                [*backend_cols, int(self.y[acc.index])],
                [*np.ones(len(backend_cols)), -float(acc.max_backends)],
                -INF,
                0.0,
            )

    def _cocompiled_distinct_rows(self, dev: _Device, modes: list[AccMode]) -> None:
        """A co-compiled binary holds each member model once: two backends of one unshareable model leave it."""
        p, k, classes = self.data.pairs, dev.k, dev.classes
        for mode in modes:
            if mode.group < 0:
                continue
            member = dev.group_switch[mode.group][0]
            for model in np.unique(p.model[k][(classes < 0) & member]):
                own_m = np.flatnonzero((classes < 0) & (p.model[k] == model))
                if own_m.size > 1:
                    self.row(
                        "cocompiled_models_distinct",
                        list(dev.x[own_m]),
                        np.ones(own_m.size),
                        -INF,
                        1.0,
                        indicator=mode.var,
                        relax=[(mode.var, float(own_m.size - 1))],
                    )

    def _mode_rows(self, dev: _Device, modes: list[AccMode]) -> None:
        """Each mode's side rows: one backend (single modes), the switch load within the segment, the
        segment's lower end (relaxed), and the SLO rows of its chains (_general_rows)."""
        aux, acc = dev.aux, dev.acc
        backend_cols = self._backend_columns(dev)
        for mode in modes:
            if mode.single and acc.discipline != Discipline.DEDICATED:
                self.row(
                    "single_backend",
                    backend_cols,
                    np.ones(len(backend_cols)),
                    -INF,
                    1.0,
                    indicator=mode.var,
                    relax=[(mode.var, float(len(backend_cols) - 1))],
                )
            if mode.threshold:
                continue
            if "Usw" in aux:
                m_big = dev.u_max + dev.usw_max - 1000.0 * mode.util_hi
                if m_big > 0:
                    self.row(
                        "switch_capacity",
                        [aux["U"], aux[mode.switch_aux[1]]],
                        [1.0, 1.0],
                        -INF,
                        1000.0 * mode.util_hi,
                        indicator=mode.var,
                        relax=[(mode.var, m_big)],
                    )
            if not self.cons and mode.util_lo > 0:
                # the segment is on the true utilisation, switches included: U + (upper switch load)
                lower_cols = [aux["U"]] + ([aux["Usw_hi"]] if "Usw_hi" in aux else [])
                self.row(
                    "utilization_lower",
                    lower_cols,
                    [-1.0] * len(lower_cols),
                    -INF,
                    -1000.0 * mode.util_lo,
                    indicator=mode.var,
                    relax=[(mode.var, 1000.0 * mode.util_lo)],
                )
            self._general_rows(
                mode, aux, dev.u_max, dev.a_max, dev.asw_max, dev.usw_max, dev.lam_max, dev.charge_switch
            )

    def _fcfs_loosest_slack_row(self, dev: _Device) -> None:
        """A valid row without big-M: an FCFS device whose applications all have mean SLOs satisfies the
        mean row of its loosest possible slack (the tightest member's row implies it)."""
        aux = dev.aux
        if dev.acc.discipline != Discipline.FCFS or "A" not in aux or dev.quantiles:
            return
        tau = max(float(np.max(self._budgets(dev, fe) - dev.s)) for fe in dev.fe_list)
        if tau > 0:
            self.row(
                "fcfs_loosest_slack",
                [aux["A"], aux["U"], int(self.y[dev.acc.index])],
                [1.0, 2 * tau, -2000.0 * tau],
                -INF,
                0.0,
            )

    def _relaxed_switch(self, acc, k, x, lam, s, o, o_least, classes, lam_max, new_aux, record) -> tuple[float, float]:
        """Lower and upper bounds on the switch load for the relaxed model (every bound valid).

        ``sum_i h_i = Lambda - sum_i lambda_i^2 / Lambda >= Lambda - max_i lambda_i``. The largest class
        is picked by binaries ``delta`` (one per shareable model, one for "an unshared application"),
        with ``L_dom <= lambda_m(x)`` for the picked model: the solver can at best pick the true
        largest, so ``H_tot >= Lambda - L_dom`` never exceeds the true ``sum_i h_i``. Switch loads are
        then at least ``o_min H_tot`` (and ``c_min H_tot`` in the second moment), with the least overhead
        under any co-compilation option (``o_least``); where the switch load enters with a negative sign
        its upper bound ``sum o lambda x`` (``h_i <= lambda_i``, ``o`` compiled apart) is used.
        """
        self.approximations.add("fcfs switch overhead bounded below by the non-dominant classes' rate")
        b = self.b
        models_here = sorted({int(c) for c in classes if c >= 0})
        own = np.flatnonzero(classes < 0)
        new_aux("Usw_hi", x, o * lam)
        (dom,) = b.add_vars("L_dom", 1, lower=0.0, upper=lam_max, integer=False, labels=[(acc.name,)])
        choices = []
        for m in models_here:
            (delta,) = b.add_vars("delta", 1, labels=[(self.data.model_names[m], acc.name)])
            rows = np.flatnonzero(classes == m)
            # L_dom <= lambda_m(x) + lam_max (1 - delta)
            self.row("dominant_class", [int(dom), *x[rows], int(delta)], [1.0, *(-lam[rows]), lam_max], -INF, lam_max)
            choices.append(int(delta))
            record.setdefault("delta", {})[m] = int(delta)
        if own.size:
            (delta,) = b.add_vars("delta", 1, labels=[("unshared", acc.name)])
            biggest = float(np.max(lam[own]))
            self.row("dominant_class", [int(dom), int(delta)], [1.0, lam_max - biggest], -INF, lam_max)
            choices.append(int(delta))
            record.setdefault("delta", {})[-1] = int(delta)
        self.row("one_dominant", [*choices, int(self.y[acc.index])], [*np.ones(len(choices)), -1.0], 0.0, 0.0)
        (total,) = b.add_vars("H_tot", 1, lower=0.0, upper=lam_max, integer=False, labels=[(acc.name,)])
        # H_tot >= Lambda(x) - L_dom
        self.row("switch_rate_lower", [*x, int(dom), int(total)], [*lam, -1.0, -1.0], -INF, 0.0)
        record.update(dom=int(dom), total=int(total))
        o_min = float(np.min(o_least))
        c_min = float(np.min(2 * o_least * s + o_least * o_least))
        new_aux("Asw", np.array([total]), np.array([c_min]))
        new_aux("Usw", np.array([total]), np.array([o_min]))
        return c_min * lam_max, o_min * lam_max

    def _util_segments(self, acc, ref_local, lam, s, o, classes, charge_switch) -> list[tuple[float, float]]:
        n = max(1, self.opt.utilization_segments)
        points = {acc.cap * (i + 1) / n for i in range(n)}
        if ref_local.size:
            rho = float(np.sum(lam[ref_local] * s[ref_local]) / 1000.0)
            if charge_switch:
                rho += self._reference_switch_load(ref_local, lam, o, classes) / 1000.0
            if 0.0 < rho < acc.cap:
                points.add(rho)
        ordered = sorted(points)
        return list(zip([0.0, *ordered[:-1]], ordered))

    @staticmethod
    def _reference_switch_load(ref_local, lam, o, classes) -> float:
        rates: dict[int, float] = defaultdict(float)
        for j in ref_local:
            rates[int(classes[j])] += float(lam[j])
        total = sum(rates.values())
        if len(rates) < 2:
            return 0.0
        switch = {int(classes[j]): float(o[j]) for j in ref_local}
        return sum(r * (1 - r / total) * switch[c] for c, r in rates.items())

    def _levels(self, values: np.ndarray, forced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Group per-application values into at most max_levels levels, tightest (smallest) first.

        Conservative: each application joins the largest cut not above its value and the level
        takes the cut (never looser than the application). Relaxed: the smallest cut not below.
        ``forced`` values (the reference's tightest members) are always cuts.
        """
        distinct = np.unique(values)
        if distinct.size <= self.opt.max_levels:
            cuts = distinct
        else:
            self.approximations.add("distinct slacks merged into levels")
            must = set(np.intersect1d(forced, distinct).tolist())
            must.add(float(distinct[0] if self.cons else distinct[-1]))
            free = max(self.opt.max_levels - len(must), 0)
            picks = np.quantile(distinct, np.linspace(0, 1, free + 2)[1:-1]) if free else np.zeros(0)
            snapped = distinct[np.clip(np.searchsorted(distinct, picks), 0, distinct.size - 1)]
            cuts = np.unique(np.concatenate([np.array(sorted(must)), snapped]))
        if self.cons:
            level = np.searchsorted(cuts, values, side="right") - 1
        else:
            level = np.searchsorted(cuts, values, side="left")
        return level.astype(np.int64), cuts

    def _chain(
        self,
        form: str,
        pairs: np.ndarray,
        values: np.ndarray,
        ref_mask: np.ndarray,
        alpha: float = 0.0,
        secondary: np.ndarray | None = None,
    ) -> Chain | None:
        if pairs.size == 0:
            return None
        forced = np.array([values[ref_mask].min()]) if ref_mask.any() else np.zeros(0)
        level_of, cuts = self._levels(values, forced)
        vars_ = self.b.add_vars("v", cuts.size, labels=[(form, float(c)) for c in cuts])
        for lo_var, hi_var in itertools.pairwise(vars_):
            self.row("level_cumulative", [lo_var, hi_var], [1.0, -1.0], -INF, 0.0)
        second = np.zeros(pairs.size, dtype=bool) if secondary is None else secondary
        return Chain(form, pairs, level_of, cuts, alpha, vars_, second)

    def _cocompilation_groups(self, acc, k: np.ndarray, ref_local: np.ndarray) -> list[int]:
        """Groups of acc's type with at least two member models among its candidate pairs: those the
        reference runs here first, then in declaration order, at most ``max_cocompilation_groups``."""
        compilations = self.data.compilations
        if compilations is None or not compilations.any:
            return []
        names = {self.data.model_names[int(m)] for m in self.data.pairs.model[k]}
        usable = [
            g
            for g, type_name in enumerate(compilations.type_of)
            if type_name == acc.type and len(names & compilations.overheads[g].keys()) >= 2
        ]
        if not usable:
            return []
        preferred: list[int] = []
        if ref_local.size:
            ref_models = [self.data.model_names[int(m)] for m in self.data.pairs.model[k[ref_local]]]
            preferred = [g for g in compilations.containing(acc.type, sorted(set(ref_models))) if g in usable]
            if len(set(ref_models)) < len(ref_models) and not all(self.data.pairs.shareable[k[ref_local]]):
                preferred = []  # two backends of one unshareable model: no group applies
        ordered = list(dict.fromkeys([*preferred, *usable]))
        if len(ordered) > self.opt.max_cocompilation_groups:
            self.approximations.add("co-compilation regimes limited to max_cocompilation_groups per accelerator")
        return ordered[: max(0, self.opt.max_cocompilation_groups)]

    def _threshold_mode(self, fe, lo, hi, single, capacity, own_load, k, ref_local) -> AccMode:
        keep = capacity >= own_load * (1.0 + 1e-12)  # an application that cannot even host itself is out
        ref_mask = np.isin(np.arange(k.size), ref_local)[keep]
        chain = self._chain("threshold", k[keep], capacity[keep], ref_mask)
        if chain is None:  # nothing fits in this regime: a mode variable fixed at 0 keeps the structure uniform
            mode = AccMode(fe, lo, hi, single, True, [])
            (var,) = self.b.add_vars("m", 1, upper=0.0)
            mode.var = int(var)
            return mode
        mode = AccMode(fe, lo, hi, single, True, [chain])
        mode.var = int(chain.vars[-1])
        return mode

    def _general_mode(
        self, acc, fe, lo, hi, budget, k, ref_local, charge_switch, aux, quantiles, occ_budget=None, group=None
    ) -> AccMode:
        """A regime whose rows are not a plain capacity: FCFS with several backends (compiled apart, or
        running co-compilation group ``group = (index, member mask, overheads)``), or additive PS."""
        p = self.data.pairs
        s, o, q = p.service[k], p.switch[k], p.quantile[k]
        allowed = np.ones(k.size, dtype=bool)
        if group is not None:
            allowed = group[1]
            o = np.where(allowed, group[2], o)
        ref_mask = np.isin(np.arange(k.size), ref_local)
        chains: list[Chain] = []
        rho = hi if self.cons else lo
        # percentile pairs with a synchronous front end join the mean chain a second time (secondary)
        occupied = np.zeros(k.size, dtype=bool) if occ_budget is None else np.isfinite(occ_budget)
        if acc.discipline == Discipline.PS:  # additive processor sharing: alpha U <= T Lambda
            if "L" not in aux:
                (col,) = self.b.add_vars("L", 1, lower=0.0, upper=INF, integer=False, labels=[(acc.name,)])
                self.define("define_L", int(col), self.x[k], p.rate[k])
                aux["L"] = int(col)
            slack = budget - s
            mean = np.isnan(q)
            self.approximations.add("additive-PS factor bounded per utilisation segment")
            keep = mean & (slack > 0)
            occ_slack = (occ_budget - s) if occ_budget is not None else np.zeros(k.size)
            extra = occupied & ~mean & (occ_slack > 0)
            chain = self._chain(
                "ps_add",
                np.concatenate([k[keep], k[extra]]),
                np.concatenate([slack[keep], occ_slack[extra]]),
                np.concatenate([ref_mask[keep], ref_mask[extra]]),
                float(kappa(rho)),
                np.concatenate([np.zeros(int(keep.sum()), dtype=bool), np.ones(int(extra.sum()), dtype=bool)]),
            )
            if chain:
                chains.append(chain)
            # a percentile depends on the utilisation alone (model v2), whatever the mean model: U <= 1000 rho*
            if quantiles:
                capacity = 1000.0 * ps_threshold(s, budget, q, p.scv[k], hi, relaxed=not self.cons)
                keep = ~mean & (capacity > 0)
                chain = self._chain("ps_cap", k[keep], capacity[keep], ref_mask[keep])
                if chain:
                    chains.append(chain)
        else:  # FCFS with several backends
            if "A" not in aux:
                (col,) = self.b.add_vars("A", 1, lower=0.0, upper=INF, integer=False, labels=[(acc.name,)])
                self.define("define_A", int(col), self.x[k], p.rate[k] * p.second[k])
                aux["A"] = int(col)
            own_switch = o if charge_switch else 0.0
            mean = np.isnan(q)
            tau = budget - s - own_switch
            keep = mean & (tau > 0) & allowed
            tau_occ = (occ_budget - s - own_switch) if occ_budget is not None else np.zeros(k.size)
            extra = occupied & ~mean & (tau_occ > 0) & allowed
            chain = self._chain(
                "fcfs_mean",
                np.concatenate([k[keep], k[extra]]),
                np.concatenate([tau[keep], tau_occ[extra]]),
                np.concatenate([ref_mask[keep], ref_mask[extra]]),
                0.0,
                np.concatenate([np.zeros(int(keep.sum()), dtype=bool), np.ones(int(extra.sum()), dtype=bool)]),
            )
            if chain:
                chains.append(chain)
            # Percentile rows bind only in the conservative model: no linear lower bound on the v2
            # percentile of a shared FCFS device is known, so in the relaxed model their factor is 0 (the
            # chain only lets its members in; the utilisation cap still applies).
            for qq in quantiles:
                self.approximations.add("fcfs percentile rows use model v1's exponential tail (verified, repaired)")
                mask = q == qq
                tau_q = budget - s - p.excess[k] - own_switch
                keep = mask & (tau_q > 0) & allowed
                factor = tail_factor(rho, qq) if self.cons else 0.0
                chain = self._chain("fcfs_pct", k[keep], tau_q[keep], ref_mask[keep], factor)
                if chain:
                    chains.append(chain)
        if group is None:
            return AccMode(fe, lo, hi, False, False, chains)
        return AccMode(
            fe, lo, hi, False, False, chains, group=group[0], switch_aux=(f"Asw@{group[0]}", f"Usw@{group[0]}")
        )

    def _general_rows(self, mode, aux, u_max, a_max, asw_max, usw_max, lam_max, charge_switch) -> None:
        for chain in mode.chains:
            top = float(chain.values[-1])
            for lev, value in enumerate(chain.values):
                value = float(value)
                if chain.form == "fcfs_mean":
                    cols = [aux["A"], aux["U"]]
                    vals = [1.0, 2 * value]
                    if "Asw" in aux and self.cons:  # Pollaczek-Khinchine with the switch terms' upper bounds
                        cols += [aux[mode.switch_aux[0]], aux[mode.switch_aux[1]]]
                        vals += [1.0, 2 * value]
                    # relaxed: the wait without any switch overhead, a lower bound on the exact wait
                    rhs = 2000.0 * value
                    m_out = a_max + asw_max + 2 * value * (u_max + usw_max) - rhs
                    m_in = 2000.0 * (top - value)
                elif chain.form == "ps_cap":
                    cols = [aux["U"]]
                    vals = [1.0]
                    rhs = value
                    m_out = u_max - value
                    m_in = top - value
                elif chain.form == "fcfs_pct":
                    cols = [aux["A"], aux["U"]]
                    vals = [chain.alpha, -2 * value]
                    if "Asw" in aux:
                        cols.append(aux[mode.switch_aux[0]])
                        vals.append(chain.alpha)
                    if "Usw_hi" in aux:  # relaxed: the switch load enters with a negative sign, so its upper bound
                        cols.append(aux["Usw_hi"])
                        vals.append(-2 * value)
                    rhs = 0.0
                    m_out = chain.alpha * (a_max + asw_max)
                    m_in = 2.0 * (top - value) * 1000.0 * mode.util_hi
                else:  # ps_add
                    cols = [aux["U"], aux["L"]]
                    vals = [chain.alpha, -value]
                    rhs = 0.0
                    m_out = chain.alpha * u_max
                    m_in = (top - value) * lam_max
                if m_out <= 0:
                    continue  # never binding
                m_in = min(m_in, m_out)
                v_l, v_top = int(chain.vars[lev]), int(chain.vars[-1])
                # rhs + M_in (1 - v_l) + (M_out - M_in)(1 - v_top): M_in once the chain is on, M_out when off
                relax = [(v_l, m_out)] if v_l == v_top else [(v_l, m_in), (v_top, m_out - m_in)]
                self.row(f"slo_{chain.form}", cols, vals, -INF, rhs, indicator=v_l, relax=relax)

    # --- memory, symmetry, aggregate cuts -----------------------------------------------------

    def _memory_rows(self) -> None:
        data, p = self.data, self.data.pairs
        margin = 1.0  # memory is an exact linear sum: no margin (the evaluator re-checks every placement)

        def backend_terms(d: int) -> tuple[list[int], list[float]]:
            am = self.acc_models.get(d)
            if am is None:
                return [], []
            k = am.pairs
            cols, vals = [], []
            for m in sorted({int(c) for c in am.classes if c >= 0}):
                j = k[am.classes == m][0]
                cols.append(self.z[(m, d)])
                vals.append(float(p.backend_mb[j]))
            own = k[am.classes < 0]
            cols += list(self.x[own])
            vals += list(p.backend_mb[own])
            return cols, vals

        for acc in data.accelerators:
            if acc.device_memory_limit_mb is None or acc.pairs.size == 0:
                continue
            cols, vals = backend_terms(acc.index)
            if sum(vals) > acc.device_memory_limit_mb * margin:
                self.row("device_memory", cols, vals, -INF, acc.device_memory_limit_mb * margin)
        for node in data.nodes:
            cols, vals = [], []
            for d in node.accelerators:
                acc = data.accelerators[d]
                if acc.device_memory_limit_mb is None:
                    c, v = backend_terms(d)
                    cols += c
                    vals += v
                cols += list(self.x[acc.pairs])
                vals += list(p.frontend_mb[acc.pairs])
            worst = float(np.sum(np.abs(vals)))  # everything on the node at once: an upper bound
            if cols and worst > node.memory_limit_mb * margin:
                self.row("node_memory", cols, vals, -INF, node.memory_limit_mb * margin)

    def _symmetry_rows(self) -> list[list[int]]:
        groups = symmetry_groups(self.data)
        for group in groups:
            for d1, d2 in itertools.pairwise(group):
                if d1 not in self.acc_models or d2 not in self.acc_models:
                    continue
                self.row("symmetry_used", [int(self.y[d1]), int(self.y[d2])], [-1.0, 1.0], -INF, 0.0)
                if self.opt.symmetry_load:
                    u1, u2 = self.acc_models[d1].aux["U"], self.acc_models[d2].aux["U"]
                    self.row("symmetry_load", [u1, u2], [-1.0, 1.0], -INF, 0.0)
        return groups

    def _aggregate_rows(self) -> None:
        """Host-all: the used accelerators' capacity must cover every application's least possible load."""
        data, p = self.data, self.data.pairs
        if not data.instance.host_all or p.size == 0:
            return
        load = p.rate * p.service
        least = np.full(len(data.app_names), np.inf)
        np.minimum.at(least, p.app, load)
        need = float(np.sum(least[np.isfinite(least)]))
        cols = [int(self.y[d]) for d in self.acc_models]
        vals = [1000.0 * data.accelerators[d].cap for d in self.acc_models]
        self.row("host_all_capacity", cols, vals, need, INF)

    def _objectives(self) -> dict[str, tuple[np.ndarray, float]]:
        data, p = self.data, self.data.pairs
        n = self.b.num_vars
        apps = data.instance.applications
        out: dict[str, tuple[np.ndarray, float]] = {}
        priority = np.array([a.priority for a in apps])
        c = np.zeros(n)
        c[self.x] = priority[p.app]
        out[Objective.MAX_HOSTED.value] = (c, 0.0)
        c = np.zeros(n)
        c[self.x] = priority[p.app]
        lookup = data.pair_lookup()
        for a_index, app in enumerate(apps):
            for acc_name, value in app.value_by_accelerator.items():
                k = lookup.get((a_index, data.acc_index.get(acc_name, -1)))
                if k is not None:
                    c[self.x[k]] = value
        out[Objective.MAX_VALUE.value] = (c, 0.0)
        c = np.zeros(n)
        c[self.y] = 1.0
        out[Objective.MIN_ACCELERATORS.value] = (c, 0.0)
        c = np.zeros(n)
        type_cost = {t.name: t.cost for t in data.instance.accelerator_types}
        c[self.y] = [type_cost[acc.type] for acc in data.accelerators]
        for a_index, app in enumerate(apps):
            for acc_name, cost in app.cost_by_accelerator.items():
                k = lookup.get((a_index, data.acc_index.get(acc_name, -1)))
                if k is not None:
                    c[self.x[k]] = cost
        out[Objective.MIN_COST.value] = (c, 0.0)
        c = np.zeros(n)
        constant = 0.0
        for a_index, app in enumerate(apps):
            if app.current_accelerator is None:
                continue
            constant += 1.0
            key = (a_index, data.acc_index.get(app.current_accelerator, -1))
            if key in lookup:
                c[self.x[lookup[key]]] = -1.0
        out[Objective.MIN_MIGRATIONS.value] = (c, constant)
        return out


def symmetry_groups(data: InstanceData) -> list[list[int]]:
    """Accelerators that can swap their contents without changing anything (see model.md).

    Same type, not named by any application (current accelerator, costs, values), and either on
    the same node, or alone on nodes with the same memory, caps, cores and labels. The groups are
    taken in accelerator order.
    """
    instance = data.instance
    named: set[str] = set()
    for app in instance.applications:
        if app.current_accelerator:
            named.add(app.current_accelerator)
        named.update(app.cost_by_accelerator)
        named.update(app.value_by_accelerator)
    signature: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for node_index, node in enumerate(instance.nodes):
        for acc in node.accelerators:
            if acc.name in named:
                continue
            d = data.acc_index[acc.name]
            key: tuple[Any, ...]
            if len(node.accelerators) == 1:
                key = (
                    "alone",
                    acc.type,
                    node.memory_mb,
                    instance.memory_cap(node),
                    node.preprocess_cores,
                    tuple(sorted(node.labels.items())),
                )
            else:
                key = ("node", node_index, acc.type)
            signature[key].append(d)
    groups = [sorted(g) for g in signature.values() if len(g) > 1]
    # Eligibility must agree too (it does by construction, but a caller may pass its own).
    out = []
    for group in groups:
        eligible_sets: dict[frozenset, list[int]] = defaultdict(list)
        for d in group:
            eligible_sets[frozenset(int(a) for a in data.pairs.app[data.accelerators[d].pairs])].append(d)
        out += [g for g in eligible_sets.values() if len(g) > 1]
    return sorted(out)
