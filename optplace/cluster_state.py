"""Incremental cluster state for heuristics: can application ``a`` join accelerator ``d``?

:class:`ClusterState` holds a partial placement and answers the probe in O(backends on d) with
scalar Python math on cached per-accelerator aggregates (plus the other accelerators of d's node
when ``a``'s front-end pre-processing raises the node's CPU load). Cheap checks run first:
compatibility, the dedicated one-backend rule, memory, then the utilisation cap from O(1)
aggregates, and only then the per-class latency check. :meth:`ClusterState.candidates` applies
the same necessary conditions to every accelerator at once with numpy, so a greedy pass probes
only the few accelerators that can possibly take the application.

The probe computes the evaluator's model with the same functions of :mod:`optplace.latency`
(model v2): processor sharing and the front end in closed form, the FCFS switch queue through
:func:`optplace.latency.switch_wait_bounds` (O(n) bounds that settle most mean checks) and, when
the bounds do not, the exact solved queue (cached by its classes). Percentiles are checked as one
tail evaluation at the budget, where the evaluator bisects for the quantile: the same answer. It
accepts a value only when it is within ``TOLERANCE`` (1e-10, relative) of its limit, ten times
tighter than the evaluator's 1e-9, so floating-point differences between the two computations can
never let an infeasible placement through. The evaluator still re-checks every final placement.

The instance's extensions are checked as the evaluator checks them: ``max_backends`` (a new backend
on a full accelerator is refused, in the probe and in the vectorised filters); a synchronous front
end's occupancy limit (one more mean budget of the application, ``app_limits``); ``switch_variance``
(the FCFS mean in that variant's closed form); and co-compilation groups (:mod:`optplace.cocompilation`):
an FCFS device is accepted when its classes meet every budget and the utilisation cap under one of
its options. The O(1) aggregates and the vectors use each model's least switch overhead, so with
groups they give a lower bound on the utilisation (a necessary condition, and a score), exact
without groups.

Indices, not names: applications and accelerators are numbered in instance order
(``app_index``/``acc_index`` map names to numbers). Objective totals (weighted hosted, value,
accelerators used, cost, migrations) are kept up to date on every :meth:`place`/:meth:`remove`,
so heuristics compare placements by :meth:`objective_key` in O(1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from optplace import latency
from optplace.cocompilation import Compilations
from optplace.domain import Discipline, Instance, Objective

TOLERANCE = 1e-10  # relative: accept value <= limit * (1 + TOLERANCE); the evaluator allows 1e-9
PREFILTER_TOLERANCE = 1e-8  # looser, for necessary-condition filters that must never reject a fit
_UNLIMITED = 1 << 62  # max_backends of an accelerator without a limit

PS, FCFS, DEDICATED = 0, 1, 2
_DISCIPLINE_CODE = {Discipline.PS: PS, Discipline.FCFS: FCFS, Discipline.DEDICATED: DEDICATED}

_OBJECTIVE_SIGN = {
    Objective.MAX_HOSTED: 1.0,
    Objective.MAX_VALUE: 1.0,
    Objective.MIN_ACCELERATORS: -1.0,
    Objective.MIN_COST: -1.0,
    Objective.MIN_MIGRATIONS: -1.0,
}


class Backend:
    """One class on an accelerator: a model backend with the summed rate of its applications."""

    __slots__ = ("apps", "budgets", "key", "least_o", "memory", "model", "o", "pre_budgets", "rate", "s", "scv")

    def __init__(self, key: int, model: int, s: float, o: float, scv: float, memory: float, least_o: float):
        self.key = key
        self.model = model
        self.s = s
        self.o = o  # switch overhead compiled apart (the profile's)
        self.least_o = least_o  # the least it can be under any co-compilation option (aggregates, prefilters)
        self.scv = scv
        self.memory = memory
        self.rate = 0.0
        self.apps: list[int] = []
        # Tightest accelerator-latency budget per SLO statistic (None = mean) over member apps
        # without pre-processing, and per (statistic, pre-processing time) over those with it:
        # their front-end delay depends on the node's load, so it is added at probe time.
        self.budgets: dict[float | None, float] = {}
        self.pre_budgets: dict[tuple[float | None, float], float] = {}


SwitchClass = tuple[float, float, float, float, Sequence[tuple[float | None, float]]]
"""One class of an FCFS device for the probe: (rate, s, scv, switch overhead, [(statistic, budget)])."""


def _budget(slo_ms: float, network_ms: float) -> float:
    """Largest accelerator(+front-end) latency that still meets ``slo_ms`` within the tolerance."""
    return slo_ms * (1.0 + TOLERANCE) - network_ms


frontend_ms = latency.frontend_request_ms  # one request's pooled front-end latency (mean or quantile)


class ClusterState:
    """A mutable partial placement with an incremental, exact feasibility probe."""

    def __init__(self, instance: Instance, objectives: Sequence[Objective] | None = None):
        self.instance = instance
        self.objectives = list(objectives if objectives is not None else instance.objectives)
        settings = instance.settings
        self.network_ms = settings.network_delay_ms
        self.additive_ps = settings.ps_model == "additive"
        self.switch_variance = settings.switch_variance
        self.compilations = Compilations(instance)

        types = instance.accelerator_types
        type_index = {t.name: i for i, t in enumerate(types)}
        self.type_names = [t.name for t in types]
        self.type_discipline = [_DISCIPLINE_CODE[t.discipline] for t in types]
        self.type_cost = [t.cost for t in types]
        models = instance.models
        model_index = {m.name: i for i, m in enumerate(models)}
        self.model_names = [m.name for m in models]
        self.model_shareable = [m.shareable for m in models]
        # profile[model][type] = (s, o, scv, memory) or None; least_o[model][type]: the least switch overhead
        # under any co-compilation option (the profile's o when no group of the type has the model)
        self.profile: list[list[tuple[float, float, float, float] | None]] = []
        self.least_o: list[list[float]] = []
        for model in models:
            row: list[tuple[float, float, float, float] | None] = [None] * len(types)
            least = [0.0] * len(types)
            for type_name, p in model.profiles.items():
                row[type_index[type_name]] = (p.service_time_ms, p.switch_overhead_ms, p.scv, p.memory_mb)
                least[type_index[type_name]] = self.compilations.least_switch_ms(
                    type_name, model.name, p.switch_overhead_ms
                )
            self.profile.append(row)
            self.least_o.append(least)
        grouped_types = self.compilations.types()
        self.type_cocompiles = [t.discipline == Discipline.FCFS and t.name in grouped_types for t in types]

        # --- nodes and accelerators (file order) ---
        self.node_names = [n.name for n in instance.nodes]
        self.node_limit = [n.memory_mb * instance.memory_cap(n) for n in instance.nodes]
        self.node_cores = [n.preprocess_cores for n in instance.nodes]
        self.node_labels = [n.labels for n in instance.nodes]
        self.node_accs: list[list[int]] = [[] for _ in instance.nodes]
        self.acc_names: list[str] = []
        self.acc_type: list[int] = []
        self.acc_node: list[int] = []
        self.acc_cap: list[float] = []
        self.acc_dev_limit: list[float | None] = []
        self.acc_max_backends: list[int] = []  # a very large number where unlimited
        for v, node in enumerate(instance.nodes):
            for acc in node.accelerators:
                t = type_index[acc.type]
                d = len(self.acc_names)
                self.acc_names.append(acc.name)
                self.acc_type.append(t)
                self.acc_node.append(v)
                self.acc_cap.append(instance.utilization_cap(acc.type))
                limit = instance.max_backends(acc)
                self.acc_max_backends.append(limit if limit is not None else _UNLIMITED)
                dev = types[t].memory_mb
                self.acc_dev_limit.append(dev * instance.memory_cap(node) if dev else None)
                self.node_accs[v].append(d)
        self.acc_index = {name: d for d, name in enumerate(self.acc_names)}
        self.acc_disc = [self.type_discipline[t] for t in self.acc_type]
        self.n_accs = len(self.acc_names)

        # --- applications (instance order) ---
        apps = instance.applications
        self.app_names = [a.name for a in apps]
        self.app_index = {name: i for i, name in enumerate(self.app_names)}
        self.n_apps = len(apps)
        self.app_model = [model_index[a.model] for a in apps]
        self.app_key = [
            model_index[a.model] if self.model_shareable[model_index[a.model]] else len(models) + i
            for i, a in enumerate(apps)
        ]
        self.app_rate = [a.rate_rps for a in apps]
        self.app_slo = [a.slo.latency_ms for a in apps]
        self.app_q = [a.slo.quantile for a in apps]
        # Every latency limit of an application: its SLO in its statistic and, with a synchronous front end,
        # the occupancy limit on its mean (optplace.latency.frontend_occupancy_limit_ms).
        cap = settings.frontend_occupancy_cap
        self.app_occupancy = [
            latency.frontend_occupancy_limit_ms(a.rate_rps, a.frontend_concurrency, cap) for a in apps
        ]
        self.app_limits: list[tuple[tuple[float | None, float], ...]] = [
            ((q, slo),) if math.isinf(occ) else ((q, slo), (None, occ))
            for q, slo, occ in zip(self.app_q, self.app_slo, self.app_occupancy, strict=True)
        ]
        self.app_pre = [a.preprocess_ms for a in apps]
        self.app_fe_mem = [a.frontend_memory_mb for a in apps]
        self.app_priority = [a.priority for a in apps]
        self.app_pinned = [a.pinned for a in apps]
        self.app_current = [self.acc_index[a.current_accelerator] if a.current_accelerator else -1 for a in apps]
        self.app_value = [{self.acc_index[k]: v for k, v in a.value_by_accelerator.items()} for a in apps]
        self.app_cost = [{self.acc_index[k]: v for k, v in a.cost_by_accelerator.items()} for a in apps]
        self._apps = apps

        # --- mutable per-accelerator state ---
        m = self.n_accs
        self.backends: list[dict[int, Backend]] = [{} for _ in range(m)]
        self.acc_apps: list[list[int]] = [[] for _ in range(m)]
        self.acc_pre_count = [0] * m
        self.dev_mem = [0.0] * m
        # aggregates: total rate, sum(lam s), sum(lam o), sum(lam^2 o): the utilisation in O(1)
        self.agg = [(0.0,) * 4 for _ in range(m)]
        self.util = [0.0] * m
        self.version = [0] * m  # bumped on every change: lets heuristics cache probe answers
        # --- mutable per-node state ---
        self.node_mem = [0.0] * len(self.node_names)
        self.node_fe_load = [0.0] * len(self.node_names)  # sum(lam * pre) / 1000 over hosted apps
        self.node_pre_apps: list[list[int]] = [[] for _ in self.node_names]
        self.node_version = [0] * len(self.node_names)

        self.assignment: list[int] = [-1] * self.n_apps
        self.n_placed = 0

        # --- objective totals ---
        self.total_priority = 0.0
        self.total_value = 0.0
        self.n_used = 0
        self.total_cost = 0.0
        self.n_migrations = sum(1 for c in self.app_current if c >= 0)

        self._build_vectors()
        self._signature_masks: dict[tuple, np.ndarray] = {}
        # what decides a probe besides the accelerator: the backend it would join (own for an unshareable
        # model), its rate, SLO, statistic, pre-processing and front-end memory
        self.app_demand = [
            (self.app_key[a] if self.model_shareable[self.app_model[a]] else -1 - self.app_model[a], *rest)
            for a, rest in enumerate(
                zip(
                    self.app_rate,
                    self.app_slo,
                    self.app_q,
                    self.app_pre,
                    self.app_fe_mem,
                    self.app_occupancy,
                    strict=True,
                )
            )
        ]
        self._probe_memo: list[tuple[tuple, dict]] = [((), {}) for _ in range(self.n_accs)]
        self._compat_masks: list[np.ndarray | None] = [None] * self.n_apps
        self._app_masks: list[np.ndarray | None] = [None] * self.n_apps
        self._eligible_by_signature: dict[tuple, np.ndarray] = {}

    # --- vectors for the prefilters ------------------------------------------------------------

    def _build_vectors(self) -> None:
        m = self.n_accs
        n_models = len(self.model_names)
        self.v_type = np.array(self.acc_type, dtype=np.intp)
        self.v_node = np.array(self.acc_node, dtype=np.intp)
        self.v_cap = np.array(self.acc_cap)
        self.v_cap_loose = self.v_cap * (1.0 + PREFILTER_TOLERANCE)
        self.v_dedicated = np.array([d == DEDICATED for d in self.acc_disc])
        self.v_max_backends = np.array(self.acc_max_backends, dtype=np.int64)
        self.v_backends = np.zeros(m, dtype=np.int64)  # backends open on each accelerator
        self.any_max_backends = bool((self.v_max_backends < _UNLIMITED).any())
        self.v_has_dev = np.array([lim is not None for lim in self.acc_dev_limit])
        self.v_type_cost = np.array([self.type_cost[t] for t in self.acc_type])
        self.v_util = np.zeros(m)
        self.v_lam = np.zeros(m)
        self.v_a = np.zeros(m)  # sum(lam s)
        self.v_ab = np.zeros(m)  # sum(lam s) + sum(lam o) (fcfs and dedicated only)
        self.v_c = np.zeros(m)  # sum(lam^2 o) (fcfs and dedicated only)
        self.v_used = np.zeros(m, dtype=bool)
        loose = 1.0 + PREFILTER_TOLERANCE
        self.v_node_limit = np.array([self.node_limit[v] for v in self.acc_node]) * loose
        self.v_dev_limit = np.array([lim if lim is not None else np.inf for lim in self.acc_dev_limit]) * loose
        self.v_node_free = self.v_node_limit.copy()
        self.v_dev_free = self.v_dev_limit.copy()
        # per model: service time, switch overhead (fcfs and dedicated only) and memory per accelerator
        self.v_s = np.full((n_models, m), np.inf)
        self.v_o = np.zeros((n_models, m))
        self.v_mem = np.zeros((n_models, m))
        for mi in range(n_models):
            for d in range(m):
                p = self.profile[mi][self.acc_type[d]]
                if p is not None:
                    self.v_s[mi, d] = p[0]
                    # the least overhead under any co-compilation option: the utilisation below is then a
                    # lower bound, exact where no group applies
                    self.v_o[mi, d] = self.least_o[mi][self.acc_type[d]] if self.acc_disc[d] != PS else 0.0
                    self.v_mem[mi, d] = p[3]
        self.v_so = self.v_s + self.v_o
        self.v_model_rate = np.zeros((n_models, m))  # rate of each shareable model's backend
        # memory a new backend of each model needs from the node and from the device
        self.v_node_need = np.where(self.v_has_dev, 0.0, self.v_mem)
        self.v_dev_need = np.where(self.v_has_dev, self.v_mem, 0.0)
        self.any_device_memory = bool(self.v_has_dev.any())
        self.any_dedicated = bool(self.v_dedicated.any())
        # accelerators that look alike to an application: same type (and node cores, if it pre-processes)
        self.type_rep = [-1] * len(self.type_names)
        group_of: dict[tuple[int, float], int] = {}
        self.group_rep: list[int] = []
        groups = []
        for d in range(m):
            t = self.acc_type[d]
            if self.type_rep[t] < 0:
                self.type_rep[t] = d
            key = (t, self.node_cores[self.acc_node[d]])
            if key not in group_of:
                group_of[key] = len(self.group_rep)
                self.group_rep.append(d)
            groups.append(group_of[key])
        self.v_group = np.array(groups, dtype=np.intp)
        self.type_rep = [d if d >= 0 else 0 for d in self.type_rep]

    # --- compatibility and alone feasibility -------------------------------------------------------

    def compatible_mask(self, a: int) -> np.ndarray:
        """Accelerators ``a`` may use at all: a profile, an allowed type, the labels, the pin."""
        mask = self._compat_masks[a]
        if mask is None:
            mask = self._compat_masks[a] = self._signature_mask(a)
        return mask

    def _signature_mask(self, a: int) -> np.ndarray:
        app = self._apps[a]
        allowed = tuple(app.allowed_accelerator_types) if app.allowed_accelerator_types is not None else None
        pin = self.app_current[a] if self.app_pinned[a] else -1
        signature = (self.app_model[a], allowed, tuple(sorted(app.required_labels.items())), pin)
        mask = self._signature_masks.get(signature)
        if mask is None:
            mask = np.isfinite(self.v_s[self.app_model[a]])
            if allowed is not None:
                ok_types = np.array([name in allowed for name in self.type_names])
                mask &= ok_types[self.v_type]
            if app.required_labels:
                ok_nodes = np.array(
                    [all(labels.get(k) == v for k, v in app.required_labels.items()) for labels in self.node_labels]
                )
                mask &= ok_nodes[self.v_node]
            if pin >= 0:
                only = np.zeros(self.n_accs, dtype=bool)
                only[pin] = mask[pin]
                mask = only
            mask.setflags(write=False)
            self._signature_masks[signature] = mask
        return mask

    def compatible(self, a: int, d: int) -> bool:
        return bool(self.compatible_mask(a)[d])

    def eligible_mask(self, a: int) -> np.ndarray:
        """Compatible accelerators where ``a`` fits alone (memory, cap, SLO on an empty device).

        Alone is the best case for memory, utilisation, FCFS mean latency and the exact PS model
        (adding load never lowers them), so those checks exclude only accelerators no placement
        could use. The additive PS model and FCFS percentiles are not monotone in that way (a fast
        co-located class can lower the mean service time or the waiting-time decay scale), so for
        them only memory and the cap are checked here.
        """
        mask = self._app_masks[a]
        if mask is not None:
            return mask
        signature = (
            id(self.compatible_mask(a)),
            self.app_model[a],
            self.app_rate[a],
            self.app_slo[a],
            self.app_q[a],
            self.app_pre[a],
            self.app_fe_mem[a],
            self.app_occupancy[a],
        )
        mask = self._eligible_by_signature.get(signature)
        if mask is None:
            mask = self._eligible_by_signature[signature] = self._eligible(a)
        self._app_masks[a] = mask
        return mask

    def _eligible(self, a: int) -> np.ndarray:
        mi = self.app_model[a]
        alone_util = self.app_rate[a] * self.v_s[mi] / 1000.0
        mask = self.compatible_mask(a) & (alone_util <= self.v_cap_loose)
        mask &= self.app_fe_mem[a] + self.v_node_need[mi] <= self.v_node_limit
        if self.any_device_memory:
            mask &= self.v_dev_need[mi] <= self.v_dev_limit
        # latency alone, once per group of accelerators that look alike to this application
        if self.app_pre[a] > 0:
            groups, reps = self.v_group, self.group_rep
        else:
            groups, reps = self.v_type, self.type_rep
        present = np.flatnonzero(np.bincount(groups[mask], minlength=len(reps)))
        if present.size:
            ok = np.ones(len(reps), dtype=bool)
            for g in present:
                d = reps[g]
                t = self.acc_type[d]
                ok[g] = self._alone_latency_ok(a, t, d)
            mask &= ok[groups]
        mask.setflags(write=False)
        return mask

    def _alone_is_a_bound(self, q: float | None, t: int) -> bool:
        """Whether a latency limit in statistic ``q`` missed alone on type ``t`` is missed beside others too."""
        if self.type_discipline[t] == PS:
            return not self.additive_ps
        return q is None

    def _alone_latency_ok(self, a: int, t: int, d: int) -> bool:
        """Alone on d, does ``a`` meet every limit whose miss alone proves it cannot meet it beside others?"""
        limits = [(q, limit) for q, limit in self.app_limits[a] if self._alone_is_a_bound(q, t)]
        if not limits:
            return True
        s, o, scv, _mem = self.profile[self.app_model[a]][t]  # type: ignore[misc]
        rate = self.app_rate[a]
        rho = rate * s / 1000.0
        if rho >= 1.0 or rho > self.acc_cap[d] * (1.0 + TOLERANCE):
            return False
        cores = self.node_cores[self.acc_node[d]]
        fe_rho = rate * self.app_pre[a] / 1000.0 / cores
        if self.app_pre[a] > 0 and fe_rho >= 1.0:
            return False
        pre = self.app_pre[a]
        needs = [(q, _budget(limit, self.network_ms) - frontend_ms(pre, fe_rho, q)) for q, limit in limits]
        if self.type_discipline[t] == PS:
            return self._ps_class_ok(s, scv, rho, rate, needs)
        return self._switch_classes_ok([(rate, s, scv, o, needs)])

    # --- the latency checks of one accelerator ---------------------------------------------------

    def _ps_class_ok(
        self, s: float, scv: float, rho: float, total_rps: float, needs: Sequence[tuple[float | None, float]]
    ) -> bool:
        """Does a PS class meet every (statistic, accelerator budget) in ``needs`` at utilisation ``rho``?"""
        sbar = rho * 1000.0 / total_rps
        mean = s + sbar / (1.0 - rho) - sbar if self.additive_ps else s / (1.0 - rho)
        for q, budget in needs:
            if q is None:
                if mean > budget:
                    return False
            elif not latency.ps_within(q, budget, s, scv, rho, total_rps / 1000.0):
                return False
        return True

    def _fcfs_device_ok(self, t: int, classes: Sequence[SwitchClass], models: Sequence[int], cap: float) -> bool:
        """Does an FCFS device of type t meet every budget of its classes under one of its compilation options?

        Without a co-compilation group for its models there is one option (compiled apart) and the
        caller has checked the utilisation; otherwise each option (:mod:`optplace.cocompilation`) is
        tried with its own overheads and utilisation, as the evaluator does.
        """
        if not self.type_cocompiles[t] or len(classes) < 2:
            return self._switch_classes_ok(classes)
        names = [self.model_names[m] for m in models]
        for option in self.compilations.options(self.type_names[t], names, [c[3] for c in classes]):
            trial = [(r, s, scv, o, needs) for (r, s, scv, _apart, needs), o in zip(classes, option.switch_ms)]
            if self._switch_classes_ok(trial, cap=cap):
                return True
        return False

    def _switch_classes_ok(self, classes: Sequence[SwitchClass], *, cap: float | None = None) -> bool:
        """Do all classes (rate, s, scv, o, needs) of an FCFS device meet their accelerator budgets?

        Mean budgets are settled by :func:`optplace.latency.switch_wait_bounds` where they can be;
        otherwise (and for every percentile) the queue is solved exactly, as the evaluator does. Under
        ``switch_variance`` other than ``dependent`` means use that closed form (percentiles stay the
        queue's). With ``cap``, the utilisation is checked against it too.
        """
        rates = [c[0] for c in classes]
        service = [c[1] for c in classes]
        scvs = [c[2] for c in classes]
        switch = [c[3] for c in classes]
        rho, lower, upper = latency.switch_wait_bounds(rates, service, scvs, switch)
        if cap is not None and (rho >= 1.0 or rho > cap * (1.0 + TOLERANCE)):
            return False
        moments = None
        if self.switch_variance != "dependent" and len(classes) > 1:
            moments = latency.fcfs_moments(rates, service, scvs, switch, switch_variance=self.switch_variance)
        total = sum(rates)
        n = len(classes)
        queue = None
        for i, (rate, s, _scv, o, needs) in enumerate(classes):
            mean_service = s + (1.0 - rate / total) * o if n > 1 else s
            for q, budget in needs:
                if q is None and moments is not None:
                    if float(moments.mean_service_ms[i]) + moments.mean_wait_ms > budget:
                        return False
                    continue
                if q is None:
                    if mean_service + upper <= budget:
                        continue
                    if mean_service + lower > budget:
                        return False
                if queue is None:
                    queue = latency.solve_switch_queue(tuple(rates), tuple(service), tuple(scvs), tuple(switch))
                if q is None:
                    if queue.mean_service_ms[i] + queue.mean_wait_ms > budget:
                        return False
                elif not queue.within(i, q, budget):
                    return False
        return True

    def _needs(self, b: Backend, fe_rho: float) -> list[tuple[float | None, float]]:
        """Accelerator budgets of a class's members: their SLO less network and front-end delay."""
        needs: list[tuple[float | None, float]] = list(b.budgets.items())
        for (q, pre), budget in b.pre_budgets.items():
            needs.append((q, budget - frontend_ms(pre, fe_rho, q)))
        return needs

    # --- the probe -----------------------------------------------------------------------------

    def can_place(self, a: int, d: int) -> bool:
        """Would every class on d (and on d's node, if a pre-processes) still meet its SLO?

        The answer depends on d's state, its node's and a's demand only, so it is remembered per
        accelerator until d or its node changes: a greedy pass asks the same question for every
        application alike (same model, rate, SLO, pre-processing) on every unchanged accelerator.
        """
        if self.assignment[a] >= 0 or not self.compatible_mask(a)[d]:
            return False
        stamp = (self.version[d], self.node_version[self.acc_node[d]], TOLERANCE)
        memo = self._probe_memo[d]
        if memo[0] != stamp:
            memo = self._probe_memo[d] = (stamp, {})
        demand = self.app_demand[a]
        answer = memo[1].get(demand)
        if answer is None:
            answer = memo[1][demand] = self._fits(a, d, check_latency=True)
        return answer

    def fits_memory(self, a: int, d: int) -> bool:
        """Compatibility, the dedicated rule, max_backends and memory only (the knapsack baselines' test)."""
        if self.assignment[a] >= 0 or not self.compatible_mask(a)[d]:
            return False
        return self._fits(a, d, check_latency=False)

    def fits_utilization_only(self, a: int, d: int) -> bool:
        """Memory plus sum(lambda s) under the cap, blind to queueing and switch overhead."""
        if not self.fits_memory(a, d):
            return False
        lam_s = self.agg[d][1] + self.app_rate[a] * self.profile[self.app_model[a]][self.acc_type[d]][0]  # type: ignore[index]
        return lam_s / 1000.0 <= self.acc_cap[d] * (1.0 + TOLERANCE)

    def _fits(self, a: int, d: int, *, check_latency: bool) -> bool:
        t = self.acc_type[d]
        prof = self.profile[self.app_model[a]][t]
        if prof is None:
            return False
        s, o, scv, mem = prof
        key = self.app_key[a]
        backends = self.backends[d]
        joined = backends.get(key)
        disc = self.acc_disc[d]
        if joined is None and backends and (disc == DEDICATED or len(backends) >= self.acc_max_backends[d]):
            return False
        # memory
        backend_mb = mem if joined is None else 0.0
        v = self.acc_node[d]
        dev_limit = self.acc_dev_limit[d]
        if dev_limit is not None:
            if self.dev_mem[d] + backend_mb > dev_limit * (1.0 + TOLERANCE):
                return False
            node_extra = self.app_fe_mem[a]
        else:
            node_extra = self.app_fe_mem[a] + backend_mb
        if self.node_mem[v] + node_extra > self.node_limit[v] * (1.0 + TOLERANCE):
            return False
        if not check_latency:
            return True
        # utilisation, from O(1) aggregates
        lam = self.app_rate[a]
        total, sa, sb, sc = self.agg[d]
        r = joined.rate if joined is not None else 0.0
        total += lam
        sa += lam * s
        k = len(backends) + (1 if joined is None else 0)
        if disc == PS or k == 1:
            rho = sa / 1000.0
        else:  # with co-compilation groups on the type a lower bound (least overheads), else exact
            least = self.least_o[self.app_model[a]][t]
            sb += lam * least
            sc += lam * (2.0 * r + lam) * least
            rho = (sa + sb - sc / total) / 1000.0
        cap = self.acc_cap[d]
        if rho >= 1.0 or rho > cap * (1.0 + TOLERANCE):
            return False
        # front end
        pre = self.app_pre[a]
        fe_load = self.node_fe_load[v] + lam * pre / 1000.0 if pre > 0 else self.node_fe_load[v]
        fe_rho = fe_load / self.node_cores[v]
        if pre > 0 and fe_rho >= 1.0:
            return False
        # every class on d, with a added (a's own budgets join its class)
        own = [(q, _budget(limit, self.network_ms) - frontend_ms(pre, fe_rho, q)) for q, limit in self.app_limits[a]]
        if disc == PS:
            for bkey, b in backends.items():
                needs = self._needs(b, fe_rho) + (own if bkey == key else [])
                if not self._ps_class_ok(b.s, b.scv, rho, total, needs):
                    return False
            if joined is None and not self._ps_class_ok(s, scv, rho, total, own):
                return False
        else:
            classes: list[SwitchClass] = [
                (
                    b.rate + lam if bkey == key else b.rate,
                    b.s,
                    b.scv,
                    b.o,
                    self._needs(b, fe_rho) + (own if bkey == key else []),
                )
                for bkey, b in backends.items()
            ]
            models = [b.model for b in backends.values()]
            if joined is None:
                classes.append((lam, s, scv, o, own))
                models.append(self.app_model[a])
            if not self._fcfs_device_ok(t, classes, models, cap):
                return False
        # a's pre-processing slows the front end of every pre-processing app on the node
        if pre > 0:
            for other_d in self.node_accs[v]:
                if other_d != d and self.acc_pre_count[other_d] and not self._pre_apps_ok(other_d, fe_rho):
                    return False
        return True

    def _pre_apps_ok(self, d: int, fe_rho: float) -> bool:
        """Do d's pre-processing apps meet their SLOs at front-end load ``fe_rho`` (d unchanged)?"""
        backends = self.backends[d]
        if self.acc_disc[d] == PS:
            rho = self.util[d]
            total = self.agg[d][0]
            return all(
                self._ps_class_ok(b.s, b.scv, rho, total, self._needs(b, fe_rho))
                for b in backends.values()
                if b.pre_budgets
            )
        classes: list[SwitchClass] = [
            (b.rate, b.s, b.scv, b.o, self._needs(b, fe_rho) if b.pre_budgets else []) for b in backends.values()
        ]
        models = [b.model for b in backends.values()]
        return self._fcfs_device_ok(self.acc_type[d], classes, models, self.acc_cap[d])

    # --- vectorised necessary conditions ---------------------------------------------------------

    def utilization_after(self, a: int) -> np.ndarray:
        """Utilisation of every accelerator if ``a`` joined it (inf where it has no profile).

        Exact for every discipline: FCFS utilisation includes the switch probabilities, which
        change with the total rate; sharing an existing backend is accounted for. With co-compilation
        groups on an FCFS type it uses each model's least switch overhead: a lower bound.
        """
        mi = self.app_model[a]
        lam = self.app_rate[a]
        o = self.v_o[mi]
        # sum(lam_i o_i (1 - lam_i / total)) after the join; the joined class's lam^2 grows by lam (2 r + lam)
        grow = (2.0 * self.v_model_rate[mi] + lam) * lam * o if self.model_shareable[mi] else lam * lam * o
        grow += self.v_c
        grow /= self.v_lam + lam
        out = lam * self.v_so[mi]
        out += self.v_ab
        out -= grow
        out *= 0.001
        return out  # inf where there is no profile: s = inf and o = 0 there

    def candidates(self, a: int, *, utilization: np.ndarray | None = None) -> np.ndarray:
        """Accelerators (in file order) that pass every O(1) necessary check for ``a``.

        Compatibility, alone feasibility, the dedicated rule, node and device memory and the
        utilisation cap (exact, :meth:`utilization_after`), for all accelerators at once.
        :meth:`can_place` remains the authority.
        """
        mi = self.app_model[a]
        if utilization is None:
            utilization = self.utilization_after(a)
        mask = self.eligible_mask(a) & (utilization <= self.v_cap_loose)
        fe = self.app_fe_mem[a]
        if self.model_shareable[mi]:
            shares = self.v_model_rate[mi] > 0
            mask &= np.where(shares, fe, fe + self.v_node_need[mi]) <= self.v_node_free
            if self.any_device_memory:
                mask &= np.where(shares, 0.0, self.v_dev_need[mi]) <= self.v_dev_free
            if self.any_dedicated:
                mask &= ~(self.v_dedicated & self.v_used & ~shares)
            if self.any_max_backends:
                mask &= shares | (self.v_backends < self.v_max_backends)
        else:
            mask &= fe + self.v_node_need[mi] <= self.v_node_free
            if self.any_device_memory:
                mask &= self.v_dev_need[mi] <= self.v_dev_free
            if self.any_dedicated:
                mask &= ~(self.v_dedicated & self.v_used)
            if self.any_max_backends:
                mask &= self.v_backends < self.v_max_backends
        return np.flatnonzero(mask)

    def memory_candidates(self, a: int, *, utilization_only: bool = False) -> np.ndarray:
        """Compatible accelerators whose memory (and dedicated rule) would take ``a``: the baselines' filter.

        With ``utilization_only`` also sum(lambda s) <= cap, blind to queueing and switch overhead.
        :meth:`fits_memory` / :meth:`fits_utilization_only` remain the authority.
        """
        mi = self.app_model[a]
        shares = self.shares_backend(a)
        mask = self.compatible_mask(a) & ~(self.v_dedicated & self.v_used & ~shares)
        if self.any_max_backends:
            mask &= shares | (self.v_backends < self.v_max_backends)
        backend_mb = np.where(shares, 0.0, self.v_mem[mi])
        fe = self.app_fe_mem[a]
        mask &= np.where(self.v_has_dev, fe, fe + backend_mb) <= self.v_node_free
        mask &= np.where(self.v_has_dev, backend_mb, 0.0) <= self.v_dev_free
        if utilization_only:
            mask &= (self.v_a + self.app_rate[a] * self.v_s[mi]) / 1000.0 <= self.v_cap_loose
        return np.flatnonzero(mask)

    def shares_backend(self, a: int) -> np.ndarray:
        """Accelerators that already run the backend ``a`` would share."""
        mi = self.app_model[a]
        if not self.model_shareable[mi]:
            return np.zeros(self.n_accs, dtype=bool)
        return self.v_model_rate[mi] > 0

    # --- updates -------------------------------------------------------------------------------

    def place(self, a: int, d: int) -> None:
        """Put ``a`` on ``d`` (no check: call :meth:`can_place` first unless violations are wanted)."""
        if self.assignment[a] >= 0:
            raise ValueError(f"application {self.app_names[a]!r} is already placed")
        mi = self.app_model[a]
        key = self.app_key[a]
        t = self.acc_type[d]
        v = self.acc_node[d]
        backend = self.backends[d].get(key)
        new_backend_mb = 0.0
        if backend is None:
            s, o, scv, mem = self.profile[mi][t]  # type: ignore[misc]
            backend = Backend(key, mi, s, o, scv, mem, self.least_o[mi][t])
            self.backends[d][key] = backend
            new_backend_mb = mem
        backend.rate += self.app_rate[a]
        backend.apps.append(a)
        self._add_budget(backend, a)
        self.acc_apps[d].append(a)
        if self.app_pre[a] > 0:
            self.acc_pre_count[d] += 1
            self.node_pre_apps[v].append(a)
            self.node_fe_load[v] += self.app_rate[a] * self.app_pre[a] / 1000.0
        self.assignment[a] = d
        self.n_placed += 1
        if len(self.acc_apps[d]) == 1:
            self.n_used += 1
            self.total_cost += self.type_cost[t]
            self.v_used[d] = True
        self.total_priority += self.app_priority[a]
        self.total_value += self.app_value[a].get(d, self.app_priority[a])
        self.total_cost += self.app_cost[a].get(d, 0.0)
        if self.app_current[a] >= 0 and self.app_current[a] == d:
            self.n_migrations -= 1
        if self.model_shareable[mi]:
            self.v_model_rate[mi, d] = backend.rate
        self._refresh_accelerator(d)
        # memory grows by what a adds (remove() recomputes from scratch, so nothing drifts)
        loose = 1.0 + PREFILTER_TOLERANCE
        if self.acc_dev_limit[d] is not None:
            self.dev_mem[d] += new_backend_mb
            self.v_dev_free[d] = (self.acc_dev_limit[d] - self.dev_mem[d]) * loose  # type: ignore[operator]
            self.node_mem[v] += self.app_fe_mem[a]
        else:
            self.node_mem[v] += self.app_fe_mem[a] + new_backend_mb
        free = (self.node_limit[v] - self.node_mem[v]) * loose
        for other in self.node_accs[v]:
            self.v_node_free[other] = free
        self.node_version[v] += 1

    def remove(self, a: int) -> int:
        """Take ``a`` off its accelerator; returns the accelerator it was on."""
        d = self.assignment[a]
        if d < 0:
            raise ValueError(f"application {self.app_names[a]!r} is not placed")
        mi = self.app_model[a]
        key = self.app_key[a]
        t = self.acc_type[d]
        v = self.acc_node[d]
        backend = self.backends[d][key]
        backend.apps.remove(a)
        if backend.apps:
            backend.rate = sum(self.app_rate[x] for x in backend.apps)
            self._refresh_budgets(backend)
        else:
            del self.backends[d][key]
            backend.rate = 0.0
        self.acc_apps[d].remove(a)
        if self.app_pre[a] > 0:
            self.acc_pre_count[d] -= 1
            self.node_pre_apps[v].remove(a)
            self._refresh_frontend(v)
        self.assignment[a] = -1
        self.n_placed -= 1
        if not self.acc_apps[d]:
            self.n_used -= 1
            self.total_cost -= self.type_cost[t]
            self.v_used[d] = False
        self.total_priority -= self.app_priority[a]
        self.total_value -= self.app_value[a].get(d, self.app_priority[a])
        self.total_cost -= self.app_cost[a].get(d, 0.0)
        if self.app_current[a] >= 0 and self.app_current[a] == d:
            self.n_migrations += 1
        if self.model_shareable[mi]:
            self.v_model_rate[mi, d] = backend.rate
        self._refresh_accelerator(d)
        self._refresh_memory(d, v)
        return d

    def _refresh_memory(self, d: int, v: int) -> None:
        """Device and node memory recomputed from scratch (no drift from add/subtract cycles)."""
        loose = 1.0 + PREFILTER_TOLERANCE
        dev_limit = self.acc_dev_limit[d]
        if dev_limit is not None:
            self.dev_mem[d] = sum(b.memory for b in self.backends[d].values())
            self.v_dev_free[d] = (dev_limit - self.dev_mem[d]) * loose
        used = 0.0
        for other in self.node_accs[v]:
            if self.acc_dev_limit[other] is None:
                used += sum(b.memory for b in self.backends[other].values())
            used += sum(self.app_fe_mem[x] for x in self.acc_apps[other])
        self.node_mem[v] = used
        free = (self.node_limit[v] - used) * loose
        for other in self.node_accs[v]:
            self.v_node_free[other] = free
        self.node_version[v] += 1

    def _refresh_frontend(self, v: int) -> None:
        self.node_fe_load[v] = sum(self.app_rate[x] * self.app_pre[x] / 1000.0 for x in self.node_pre_apps[v])

    def _add_budget(self, backend: Backend, a: int) -> None:
        pre = self.app_pre[a]
        for q, limit in self.app_limits[a]:
            budget = _budget(limit, self.network_ms)
            if pre > 0:
                if budget < backend.pre_budgets.get((q, pre), math.inf):
                    backend.pre_budgets[(q, pre)] = budget
            elif budget < backend.budgets.get(q, math.inf):
                backend.budgets[q] = budget

    def _refresh_budgets(self, backend: Backend) -> None:
        backend.budgets = {}
        backend.pre_budgets = {}
        for x in backend.apps:
            self._add_budget(backend, x)

    def _refresh_accelerator(self, d: int) -> None:
        """Recompute d's aggregates from its backends (from scratch: no floating-point drift)."""
        total = sa = sb = sc = 0.0
        for b in self.backends[d].values():
            r = b.rate
            total += r
            sa += r * b.s
            sb += r * b.least_o  # least overheads: exact without co-compilation groups, else a lower bound
            sc += r * r * b.least_o
        self.agg[d] = (total, sa, sb, sc)
        k = len(self.backends[d])
        rho = sa / 1000.0 if self.acc_disc[d] == PS or k <= 1 else (sa + sb - sc / total) / 1000.0
        self.util[d] = rho
        self.v_util[d] = rho
        self.v_lam[d] = total
        self.v_a[d] = sa
        is_ps = self.acc_disc[d] == PS
        self.v_ab[d] = sa if is_ps else sa + sb
        self.v_c[d] = 0.0 if is_ps else sc
        self.v_backends[d] = k
        self.version[d] += 1

    # --- queries -------------------------------------------------------------------------------

    def placement(self) -> dict[str, str]:
        """The current placement as application name -> accelerator name."""
        return {self.app_names[a]: self.acc_names[d] for a, d in enumerate(self.assignment) if d >= 0}

    def load(self, placement: dict[str, str], *, check: bool = True) -> list[str]:
        """Place a named placement; with ``check``, skip (and return) applications that do not fit."""
        skipped = []
        for name, acc_name in placement.items():
            a, d = self.app_index[name], self.acc_index[acc_name]
            if check and not self.can_place(a, d):
                skipped.append(name)
                continue
            self.place(a, d)
        return skipped

    def unplaced(self) -> list[int]:
        return [a for a, d in enumerate(self.assignment) if d < 0]

    def objective_values(self) -> dict[Objective, float]:
        return {
            Objective.MAX_HOSTED: self.total_priority,
            Objective.MAX_VALUE: self.total_value,
            Objective.MIN_ACCELERATORS: float(self.n_used),
            Objective.MIN_COST: self.total_cost,
            Objective.MIN_MIGRATIONS: float(self.n_migrations),
        }

    def objective_key(self) -> tuple[float, ...]:
        """Sorts better placements higher under the lexicographic objectives.

        Under ``host_all`` the number of hosted applications comes first: a placement that
        misses one is no solution at all, whatever its other objectives.
        """
        values = self.objective_values()
        key = tuple(_OBJECTIVE_SIGN[o] * values[o] for o in self.objectives)
        if self.instance.host_all:
            return (float(self.n_placed), *key)
        return key

    def marginal_vectors(self, a: int) -> list[np.ndarray]:
        """Per-accelerator change of each objective (in key order, smaller is better) if ``a`` joins.

        Objectives that every accelerator changes alike (hosted weight) are left out.
        """
        out = []
        for objective in self.objectives:
            if objective == Objective.MAX_VALUE and self.app_value[a]:
                vec = np.full(self.n_accs, -self.app_priority[a])
                for d, value in self.app_value[a].items():
                    vec[d] = -value
                out.append(vec)
            elif objective == Objective.MIN_ACCELERATORS:
                out.append((~self.v_used).astype(float))
            elif objective == Objective.MIN_COST:
                vec = np.where(self.v_used, 0.0, self.v_type_cost)
                if self.app_cost[a]:
                    vec = vec.copy()
                    for d, cost in self.app_cost[a].items():
                        vec[d] += cost
                out.append(vec)
            elif objective == Objective.MIN_MIGRATIONS and self.app_current[a] >= 0:
                vec = np.ones(self.n_accs)
                vec[self.app_current[a]] = 0.0
                out.append(vec)
        return out


def better(new: tuple[float, ...], old: tuple[float, ...], eps: float = 1e-9) -> bool:
    """Is ``new`` lexicographically better than ``old`` by more than a rounding error?"""
    for x, y in zip(new, old):
        if x > y + eps * max(1.0, abs(y)):
            return True
        if x < y - eps * max(1.0, abs(y)):
            return False
    return False
