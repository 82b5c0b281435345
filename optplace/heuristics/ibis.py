"""The seed as released: baselines that make the decisions of the authors' placement code.

optplace's ``first_fit``, ``breadth_first`` and ``least_utilization_increase`` are the seed's
*policies* under optplace's latency model. The methods here are the seed's *code*: umassos/ibis
(MIT) ``ibis/control_service/placement_algorithms_{edgetpu,trt}.py`` and ``control_service_{edgetpu,
trt,heter}.py``, re-implemented decision for decision, and checked against decisions recorded from
that code on every seed workload (``benchmarks/ibis_fixtures.py``, ``tests/heuristics/data/
ibis_decisions``). They keep:

* the authors' feasibility tests, in their order: memory (80% of the node; an edgeTPU check asks for
  the model's memory even when the model is already loaded), the 0.8 utilisation cap, on GPU hosts
  the front end's utilisation, then for every class on the node the front-end occupancy limit
  ``rate x (accelerator latency + front-end delay) < 0.8 x 1000 ms`` and the mean SLO (strict ``<``);
* their formulas (:mod:`optplace.heuristics.ibis_model`): FCFS with the squared mean as second moment,
  additive processor sharing, a front end of 1000/(mu - lambda) over the arriving application's own
  rate with mu = 50/s on edgeTPU hosts and 41.67/s (24 ms) on GPU hosts, 10 ms of network, whatever
  the instance says about pre-processing and network;
* their node order: Kubernetes lists nodes by name, so checks run in name order (``nano1, nano10,
  nano2``), depth-first takes the first feasible node by name, breadth-first the first feasible node
  already running the model, else the first idle one, else the least utilised (``numpy.argsort``);
* their sharing: a GPU application joins a running backend of its model (MAAS), an edgeTPU
  application joins its model inside the node's one edgeTPU process; the joined class's rate grows
  and its SLO becomes the tighter of the two;
* in mixed clusters (``control_service_heter``): a candidate per device kind, then the device whose
  utilisation rises least (the GPU on ties).

Device kinds: ``fcfs`` accelerators are the authors' edgeTPUs; ``ps`` and ``dedicated`` ones their
GPUs (a ``dedicated`` accelerator also keeps optplace's one-backend rule). Like the knapsack
baselines, they respect what is not latency: a profile for the type, allowed types, labels, pins
(pinned applications go first), device memory where a type declares it, the instance's utilisation
and memory caps (0.8 in the seed). Objectives beyond hosting are ignored, as by the seed; a
percentile SLO is checked as a mean, as the seed checks every SLO.

Quirks of the released code, each off by default (options):

* ``frontend_threshold_8``: ``FRONTEND_THRESHOLD = 08`` in the edgeTPU module, a syntax error in
  Python 3, read as 8 instead of 0.8 (the GPU module's value): the occupancy limit on edgeTPU hosts
  becomes 8 requests in flight.
* ``gpu_share_anyway``: the GPU-only service (``control_service_trt``), when an application fails the
  check for sharing a running backend of its model, checks it as if it had a backend of its own, and
  if that passes, shares anyway. Only on clusters without edgeTPU-like (fcfs) accelerators: the mixed
  service has no such retry.
* ``no_device_type_check``: the mixed service checks every node for both device kinds; the authors
  kept nodes of the wrong kind out by hand. With this option they are not kept out: an application
  can be "placed" with an edgeTPU backend on a GPU host or the reverse. Such an application is not
  in the returned placement (there is no such device there) but occupies memory and load in the
  authors' bookkeeping, as it would in theirs; ``stats.wrong_kind_hosts`` lists them.

They are baselines (``may_violate_slo``): ``solve`` re-checks their placements with optplace's
evaluator, which flags where the authors' model and optplace's disagree.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from optplace.cluster_state import ClusterState
from optplace.domain import Discipline, Instance
from optplace.heuristics import ibis_model as authors
from optplace.heuristics.greedy import finish, pass_stats
from optplace.options import MethodOptions
from optplace.params import SolveParams
from optplace.registry import MethodOutput, register

GPU, TPU = "gpu", "tpu"
SIDE_OF = {Discipline.PS: GPU, Discipline.DEDICATED: GPU, Discipline.FCFS: TPU}
Policy = Literal["depth_first", "breadth_first"]
QUIRKS = ("frontend_threshold_8", "gpu_share_anyway", "no_device_type_check")
KNOWN_CHECKS = 4_000_000  # check results kept (over all demand signatures; about 20 bytes each)
MIN_KNOWN_SIGNATURES = 64


class IbisOptions(MethodOptions):
    """Options of the faithful seed baselines: the released code's quirks (all off by default)."""

    frontend_threshold_8: bool = Field(
        default=False, description="edgeTPU hosts use the released file's FRONTEND_THRESHOLD = 08 read as 8, not 0.8."
    )
    gpu_share_anyway: bool = Field(
        default=False,
        description="GPU-only clusters: an application that fails the sharing check is checked as if it had "
        "its own backend, then shares anyway (control_service_trt).",
    )
    no_device_type_check: bool = Field(
        default=False,
        description="Mixed clusters: check every host for both device kinds, as the released mixed service does "
        "unless nodes are excluded by hand.",
    )
    record_decisions: bool = Field(
        default=False, description="Put every decision, with the authors' reasons for rejections, in stats.decisions."
    )


class IbisHeterogeneousOptions(IbisOptions):
    """``ibis_heterogeneous`` also chooses the per-device policies of the mixed service."""

    edgetpu_policy: Policy = Field(default="breadth_first", description="The service's tpu_method: bfs or dfs.")
    gpu_policy: Policy = Field(default="depth_first", description="The service's gpu_method: modeling_dfs or _bfs.")


@dataclass
class GpuBackend:
    """One GPU backend process: one model, the summed rate of its front ends, their tightest SLO."""

    model: str
    maas: bool  # shareable: later applications of the model join it
    service_rate: float  # per second, 1000 / service time in ms, as the authors' profiles give it
    rate: float
    slo_ms: float
    memory_mb: float


@dataclass
class TpuBackend:
    """The one edgeTPU process of a device: a class per model file loaded into it."""

    identities: list[str] = field(default_factory=list)
    service_rates: list[float] = field(default_factory=list)
    overheads_ms: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    slos_ms: list[float] = field(default_factory=list)
    memory_mb: float = 0.0

    def index(self, identity: str) -> int:
        return self.identities.index(identity) if identity in self.identities else -1


@dataclass
class KnownChecks:
    """One demand signature's check results over a side's probe order, current up to ``seen`` changes."""

    types: list[int]  # per position: the profile's type, -1 where the node is excluded
    verdicts: list[str]  # per position: "" if feasible, else the reasons joined by "+"
    feasible: np.ndarray
    demands: dict[int, Demand]  # per profile type
    seen: int


@dataclass(frozen=True)
class Demand:
    """What one application asks of one device kind on one accelerator (the authors' service pair)."""

    side: str
    identity: str  # the model file (edgeTPU: one per application if the model is not shareable)
    model: str
    maas: bool
    service_rate: float
    overhead_ms: float
    rate: float
    slo_ms: float
    frontend_mb: float
    backend_mb: float


class AuthorsCluster:
    """The authors' bookkeeping of a cluster and their per-node checks, over optplace accelerators."""

    def __init__(self, instance: Instance, options: IbisOptions, tpu_policy: Policy, gpu_policy: Policy):
        self.state = ClusterState(instance)  # compatibility, and the placement handed back
        self.options = options
        self.policies = {TPU: tpu_policy, GPU: gpu_policy}
        self.threshold = {
            TPU: authors.FRONTEND_THRESHOLD_AS_8 if options.frontend_threshold_8 else authors.FRONTEND_THRESHOLD,
            GPU: authors.FRONTEND_THRESHOLD,
        }
        st = self.state
        types = instance.accelerator_types
        self.acc_side = [SIDE_OF[types[t].discipline] for t in st.acc_type]
        self.acc_dedicated = [types[t].discipline == Discipline.DEDICATED for t in st.acc_type]
        self.type_side = [SIDE_OF[t.discipline] for t in types]
        # Kubernetes lists nodes by name; a node's accelerators keep file order.
        self.order = sorted(range(st.n_accs), key=lambda d: st.node_names[st.acc_node[d]])
        self.sides = sorted({self.acc_side[d] for d in range(st.n_accs)}, reverse=True)  # tpu first, as heter
        self.mixed = len(self.sides) == 2
        if options.gpu_share_anyway and self.mixed:
            raise ValueError(
                "options.gpu_share_anyway reproduces the GPU-only service (control_service_trt), which this "
                "cluster's fcfs (edgeTPU-like) accelerators rule out; the mixed service has no such retry: "
                "drop the option"
            )
        self.gpu: list[list[GpuBackend]] = [[] for _ in range(st.n_accs)]
        self.tpu: list[TpuBackend | None] = [None] * st.n_accs
        # Per node, in registration order as in the authors' Node: front ends and node-memory backends.
        self.node_frontends: list[list[float]] = [[] for _ in st.node_names]
        self.node_backends: list[list[GpuBackend | TpuBackend]] = [[] for _ in st.node_names]
        self.device_backends: list[list[GpuBackend | TpuBackend]] = [[] for _ in range(st.n_accs)]
        self.required_labels = [a.required_labels for a in instance.applications]
        # Accelerators each side probes, in the services' node order.
        probe_all = self.mixed and options.no_device_type_check
        self.probe_order = {
            side: [d for d in self.order if probe_all or self.acc_side[d] == side] for side in self.sides
        }
        self.position = {side: {d: p for p, d in enumerate(order)} for side, order in self.probe_order.items()}
        # A check's result is a pure function of the demand and the state of the accelerator's node, so
        # each demand signature keeps its results and re-checks only accelerators whose node changed.
        self.signatures: dict[tuple, int] = {}
        self.known: dict[int, KnownChecks] = {}
        self.known_limit = max(MIN_KNOWN_SIGNATURES, KNOWN_CHECKS // max(1, st.n_accs))
        self.changed: list[int] = []  # accelerators whose node changed, in order of the changes
        self.node_used: list[float | None] = [None] * len(st.node_names)
        # For the least-utilised choice: each side's utilisation of each accelerator (a host can carry both).
        self.load: dict[str, list[float | None]] = {side: [None] * st.n_accs for side in (TPU, GPU)}

    # --- what an application asks of an accelerator -------------------------------------------

    def profile_type(self, a: int, side: str, d: int) -> int:
        """The type whose profile ``a`` brings to ``d`` for ``side``, or -1 where the authors exclude the node."""
        st = self.state
        if self.acc_side[d] == side:
            return st.acc_type[d] if st.compatible_mask(a)[d] else -1
        # a host of the other kind: only probed without the device-type check
        t = self.side_profile_type(a, side)
        return t if t >= 0 and self.host_allows(a, d) else -1

    def demand(self, a: int, side: str, t: int) -> Demand:
        """What ``a`` asks of a ``side`` device with its profile for type ``t``."""
        st = self.state
        s_ms, overhead, _scv, memory = st.profile[st.app_model[a]][t]  # type: ignore[misc]
        model = st.model_names[st.app_model[a]]
        maas = st.model_shareable[st.app_model[a]]
        return Demand(
            side=side,
            identity=model if maas or side == GPU else f"{model}@{st.app_names[a]}",
            model=model,
            maas=maas,
            service_rate=1000.0 / s_ms,
            overhead_ms=overhead if side == TPU else 0.0,
            rate=st.app_rate[a],
            slo_ms=st.app_slo[a],
            frontend_mb=st.app_fe_mem[a],
            backend_mb=memory,
        )

    def side_profile_type(self, a: int, side: str) -> int:
        """The first type of ``side`` the application's model has an allowed profile for, or -1."""
        st = self.state
        allowed = self.state.instance.applications[a].allowed_accelerator_types
        for t, name in enumerate(st.type_names):
            usable = self.type_side[t] == side and st.profile[st.app_model[a]][t] is not None
            if usable and (allowed is None or name in allowed):
                return t
        return -1

    def host_allows(self, a: int, d: int) -> bool:
        st = self.state
        labels = st.node_labels[st.acc_node[d]]
        if any(labels.get(k) != v for k, v in self.required_labels[a].items()):
            return False
        return not st.app_pinned[a] or st.app_current[a] == d

    # --- the authors' checks, one accelerator at a time ---------------------------------------

    def memory_fits(self, d: int, frontend_mb: float, backend_mb: float) -> bool:
        """``is_memory_feasible``: 80% of the node minus what its services use, >= what is asked."""
        st = self.state
        v = st.acc_node[d]
        used = self.node_used[v]
        if used is None:  # summed as ``get_service_memory_used``: front ends, then backends
            used = 0.0
            for mb in self.node_frontends[v]:
                used += mb
            for backend in self.node_backends[v]:
                used += backend.memory_mb
            self.node_used[v] = used
        available = st.node_limit[v] - used
        device_limit = st.acc_dev_limit[d]
        if device_limit is None:
            return not available < frontend_mb + backend_mb
        device_used = sum(b.memory_mb for b in self.device_backends[d])
        return not (available < frontend_mb or device_limit - device_used < backend_mb)

    def dedicated_blocks(self, d: int, joins: bool) -> bool:
        return self.acc_dedicated[d] and not joins and bool(self.gpu[d] or self.tpu[d] is not None)

    def tpu_check(self, dm: Demand, d: int) -> list[str]:
        """``placement_algorithms_edgetpu.is_node_feasible``: [] if feasible, else the reasons."""
        backend = self.tpu[d]
        index = backend.index(dm.identity) if backend is not None else -1
        if self.dedicated_blocks(d, index >= 0):
            return ["dedicated"]
        if not self.memory_fits(d, dm.frontend_mb, dm.backend_mb):  # the model's memory even if loaded
            return ["memory"]
        if backend is None:
            service_s = [1 / dm.service_rate]
            overheads, rates, slos = [dm.overhead_ms], [dm.rate], [dm.slo_ms]
        else:
            service_s = [1 / mu for mu in backend.service_rates]
            overheads, rates, slos = list(backend.overheads_ms), list(backend.rates), list(backend.slos_ms)
            if index == -1:
                service_s.append(1 / dm.service_rate)
                overheads.append(dm.overhead_ms)
                rates.append(dm.rate)
                slos.append(dm.slo_ms)
            else:
                rates[index] += dm.rate
                slos[index] = min(slos[index], dm.slo_ms)
        backend_ms, rho = authors.fcfs_response_times(service_s, overheads, rates)
        if authors.add_up(rho) > self.state.acc_cap[d]:
            return ["utilization"]
        _, frontend_ms = authors.frontend_delay(dm.rate, authors.TPU_HOST_PREPROCESS_RATE)
        return authors.end_to_end_checks(backend_ms, rates, slos, frontend_ms, self.threshold[TPU])

    def shares_gpu(self, d: int, model: str) -> GpuBackend | None:
        """``contains_model`` / ``get_needed_service``: the first MAAS backend of ``model`` on d."""
        for backend in self.gpu[d]:
            if backend.model == model and backend.maas:
                return backend
        return None

    def gpu_check(self, dm: Demand, d: int, *, as_own_backend: bool) -> list[str]:
        """``is_node_feasible`` (a backend of its own) or ``is_node_feasible_MaaS`` (join the running one)."""
        running = self.shares_gpu(d, dm.model)
        if running is None:
            as_own_backend = True
        if self.dedicated_blocks(d, not as_own_backend):
            return ["dedicated"]
        backend_mb = 0.0 if dm.maas and running is not None else dm.backend_mb
        if not self.memory_fits(d, dm.frontend_mb, backend_mb):
            return ["memory"]
        service_s, rates, slos = [], [], []
        for backend in self.gpu[d]:
            service_s.append(1 / backend.service_rate)
            if not as_own_backend and backend.model == dm.model:
                rates.append(backend.rate + dm.rate)
                slos.append(min(backend.slo_ms, dm.slo_ms))
            else:
                rates.append(backend.rate)
                slos.append(backend.slo_ms)
        if as_own_backend:
            service_s.append(1 / dm.service_rate)
            rates.append(dm.rate)
            slos.append(dm.slo_ms)
        backend_ms, rho = authors.ps_response_times(service_s, rates)
        cap = self.state.acc_cap[d]
        if authors.add_up(rho) > cap:
            return ["utilization"]
        frontend_rho, frontend_ms = authors.frontend_delay(dm.rate, authors.GPU_HOST_PREPROCESS_RATE)
        if frontend_rho > cap:
            return ["frontend_utilization"]
        return authors.end_to_end_checks(backend_ms, rates, slos, frontend_ms, self.threshold[GPU])

    def check(self, dm: Demand, d: int) -> list[str]:
        if dm.side == TPU:
            return self.tpu_check(dm, d)
        if not dm.maas:
            return self.gpu_check(dm, d, as_own_backend=True)
        reasons = self.gpu_check(dm, d, as_own_backend=False)
        if reasons and self.options.gpu_share_anyway and self.shares_gpu(d, dm.model) is not None:
            retry = self.gpu_check(dm, d, as_own_backend=True)
            if not retry:
                return []
            reasons += [r for r in retry if r not in reasons]
        return reasons

    # --- choosing among the feasible accelerators ---------------------------------------------

    def tpu_utilization(self, backend: TpuBackend, demand: Demand | None = None) -> float:
        """Sum of the classes' utilisation (optionally with ``demand`` joined), as ``sum(...)`` of theirs."""
        service_s = [1 / mu for mu in backend.service_rates]
        overheads, rates = list(backend.overheads_ms), list(backend.rates)
        if demand is not None:
            index = backend.index(demand.identity)
            if index == -1:
                service_s.append(1 / demand.service_rate)
                overheads.append(demand.overhead_ms)
                rates.append(demand.rate)
            else:
                rates[index] += demand.rate
        return sum(authors.fcfs_response_times(service_s, overheads, rates)[1])

    def utilization(self, side: str, d: int) -> float:
        """d's utilisation on ``side`` as the breadth-first choosers sum it (``sum`` / ``np.sum``), cached."""
        load = self.load[side][d]
        if load is None:
            if side == TPU:
                load = self.tpu_utilization(self.tpu[d])  # type: ignore[arg-type]
            else:
                backends = self.gpu[d]
                rho = authors.ps_response_times([1 / b.service_rate for b in backends], [b.rate for b in backends])[1]
                load = authors.add_up(rho)
            self.load[side][d] = load
        return load

    def choose(self, side: str, dm_of: dict[int, Demand], feasible: list[int]) -> int:
        """``choose_node_depth_first`` / ``choose_node_breadth_first`` of the side's module."""
        if side == GPU:
            for d in feasible:
                if self.shares_gpu(d, dm_of[d].model) is not None:
                    return d
        if self.policies[side] == "depth_first":
            return feasible[0]  # checked in name order: the first by name
        if side == TPU:
            for d in feasible:
                backend = self.tpu[d]
                if backend is not None and backend.index(dm_of[d].identity) >= 0:
                    return d
            for d in feasible:
                if self.tpu[d] is None:
                    return d
        else:
            for d in feasible:
                if not self.gpu[d]:
                    return d
        loads = [self.utilization(side, d) for d in feasible]
        return feasible[int(np.argsort(loads)[0])]

    def rise(self, dm: Demand, d: int) -> float:
        """``utiliztion_diff_tpu`` / ``utilization_diff_gpu``: utilisation after minus before."""
        if dm.side == TPU:
            backend = self.tpu[d]
            if backend is None:
                return self.tpu_utilization(TpuBackend(), demand=dm) - 0
            return self.tpu_utilization(backend, demand=dm) - self.tpu_utilization(backend)
        service_s = [1 / b.service_rate for b in self.gpu[d]]
        rates = [b.rate for b in self.gpu[d]]
        before = sum(authors.ps_response_times(service_s, rates)[1]) if service_s else 0
        service_s.append(1 / dm.service_rate)  # appended even when it would share: as released
        rates.append(dm.rate)
        return sum(authors.ps_response_times(service_s, rates)[1]) - before

    # --- one application ------------------------------------------------------------------------

    def signature(self, a: int, side: str) -> int:
        """Applications with the same signature make the same demand on every accelerator."""
        st = self.state
        app = st.instance.applications[a]
        allowed = tuple(app.allowed_accelerator_types) if app.allowed_accelerator_types is not None else None
        key = (
            side,
            st.app_key[a],  # the model, or the application itself if the model is not shareable
            st.app_rate[a],
            st.app_slo[a],
            st.app_fe_mem[a],
            allowed,
            tuple(sorted(app.required_labels.items())),
            st.app_current[a] if st.app_pinned[a] else -1,
        )
        return self.signatures.setdefault(key, len(self.signatures))

    def find(self, a: int, side: str) -> tuple[int, Demand | None, dict[str, list[int]]]:
        """The side's chosen accelerator (or -1) and its demand; if none, each rejecting accelerator's reasons."""
        order = self.probe_order[side]
        known = self.known_checks(a, side)
        feasible = [order[p] for p in np.flatnonzero(known.feasible).tolist()]
        if not feasible:
            rejected: dict[str, list[int]] = {}
            for p, verdict in enumerate(known.verdicts):
                if verdict:
                    rejected.setdefault(verdict, []).append(order[p])
            return -1, None, rejected
        position = self.position[side]
        dm_of = {d: known.demands[known.types[position[d]]] for d in feasible}
        d = self.choose(side, dm_of, feasible)
        return d, dm_of[d], {}

    def known_checks(self, a: int, side: str) -> KnownChecks:
        """The checks of ``a``'s demand signature on every accelerator of the side, brought up to date."""
        signature = self.signature(a, side)
        known = self.known.pop(signature, None)  # re-inserted last: the dict is kept in LRU order
        if known is None:
            if len(self.known) >= self.known_limit:  # demands that never recur must not pile up
                del self.known[next(iter(self.known))]
            order = self.probe_order[side]
            known = KnownChecks([-1] * len(order), [""] * len(order), np.zeros(len(order), dtype=bool), {}, 0)
            stale: Iterable[int] = order
        else:
            stale = set(self.changed[known.seen :])
        self.known[signature] = known
        known.seen = len(self.changed)
        position = self.position[side]
        for d in stale:
            p = position.get(d)
            if p is None:
                continue
            t = known.types[p] = self.profile_type(a, side, d)
            if t < 0:
                known.verdicts[p], known.feasible[p] = "", False
                continue
            dm = known.demands.get(t)
            if dm is None:
                dm = known.demands[t] = self.demand(a, side, t)
            known.verdicts[p] = "+".join(self.check(dm, d))
            known.feasible[p] = not known.verdicts[p]
        return known

    def place(self, a: int) -> dict[str, Any]:
        """Deploy ``a`` as the authors' service would; returns the decision record."""
        st = self.state
        found = {side: self.find(a, side) for side in self.sides}
        candidates = [side for side in self.sides if found[side][0] >= 0]
        if not candidates:
            rejected = {
                side: {
                    reason: sorted(st.node_names[st.acc_node[d]] for d in ds) for reason, ds in found[side][2].items()
                }
                for side in self.sides
                if found[side][2]
            }
            return {"application": st.app_names[a], "node": None, "rejected": rejected}
        if len(candidates) == 2:
            tpu_d, tpu_dm = found[TPU][0], found[TPU][1]
            gpu_d, gpu_dm = found[GPU][0], found[GPU][1]
            assert tpu_dm is not None and gpu_dm is not None
            side = TPU if self.rise(tpu_dm, tpu_d) < self.rise(gpu_dm, gpu_d) else GPU
        else:
            side = candidates[0]
        d, dm = found[side][0], found[side][1]
        assert dm is not None
        shared = self.deploy(dm, d)
        return {
            "application": st.app_names[a],
            "node": st.node_names[st.acc_node[d]],
            "device": side,
            "shared": shared,
            "_accelerator": d,
        }

    def deploy(self, dm: Demand, d: int) -> bool:
        """Register the front end and the backend (or join one); True if it joined a running one."""
        st = self.state
        v = st.acc_node[d]
        self.changed.extend(st.node_accs[v])  # memory changes for the whole node, latency for d
        self.node_used[v] = None
        self.load[TPU][d] = self.load[GPU][d] = None
        self.node_frontends[v].append(dm.frontend_mb)
        pool = self.device_backends[d] if st.acc_dev_limit[d] is not None else self.node_backends[v]
        if dm.side == GPU:
            running = self.shares_gpu(d, dm.model) if dm.maas else None
            if running is not None:
                running.rate += dm.rate
                running.slo_ms = min(running.slo_ms, dm.slo_ms)
                return True
            backend = GpuBackend(dm.model, dm.maas, dm.service_rate, dm.rate, dm.slo_ms, dm.backend_mb)
            self.gpu[d].append(backend)
            pool.append(backend)
            return False
        tpu = self.tpu[d]
        if tpu is None:
            tpu = self.tpu[d] = TpuBackend()
            pool.append(tpu)
        index = tpu.index(dm.identity)
        if index >= 0:
            tpu.rates[index] += dm.rate
            tpu.slos_ms[index] = min(dm.slo_ms, tpu.slos_ms[index])
            return True
        tpu.identities.append(dm.identity)
        tpu.service_rates.append(dm.service_rate)
        tpu.overheads_ms.append(dm.overhead_ms)
        tpu.rates.append(dm.rate)
        tpu.slos_ms.append(dm.slo_ms)
        tpu.memory_mb += dm.backend_mb
        return False


def run(instance: Instance, options: IbisOptions, tpu_policy: Policy, gpu_policy: Policy, name: str) -> MethodOutput:
    """Deploy every application in arrival order (pinned ones first) and hand back the placement."""
    started = time.perf_counter()
    cluster = AuthorsCluster(instance, options, tpu_policy, gpu_policy)
    st = cluster.state
    order = [a for a in range(st.n_apps) if st.app_pinned[a]] + [a for a in range(st.n_apps) if not st.app_pinned[a]]
    decisions: dict[int, dict[str, Any]] = {}
    wrong_kind = []
    for a in order:
        decision = decisions[a] = cluster.place(a)
        d = decision.pop("_accelerator", -1)
        if d >= 0:
            if cluster.acc_side[d] == decision["device"]:
                st.place(a, d)
            else:
                wrong_kind.append(st.app_names[a])
    stats: dict[str, Any] = {
        "policy": name,
        "service": "mixed" if cluster.mixed else f"{cluster.sides[0]}-only",
        "edgetpu_policy": tpu_policy,
        "gpu_policy": gpu_policy,
        "quirks": [q for q in QUIRKS if getattr(options, q)],
        "authors_hosted": sum(1 for dec in decisions.values() if dec["node"] is not None),
        "shared_backends": sum(1 for dec in decisions.values() if dec.get("shared")),
        **pass_stats(st, started),
    }
    if wrong_kind:
        stats["wrong_kind_hosts"] = wrong_kind
    if options.record_decisions:
        stats["decisions"] = [decisions[a] for a in range(st.n_apps)]
    return finish(st, stats)


@register(
    "ibis_first_fit",
    "Baseline (the seed as released): the authors' code's decisions, depth-first (GPU modeling_dfs, "
    "edgeTPU dfs; mixed clusters: least utilisation rise); their tests, formulas and node order; "
    "options: frontend_threshold_8, gpu_share_anyway, no_device_type_check",
    "baseline",
    may_violate_slo=True,
    options=IbisOptions,
)
def ibis_first_fit(instance: Instance, params: SolveParams) -> MethodOutput:
    options = IbisOptions.of(params, instance)
    return run(instance, options, "depth_first", "depth_first", "ibis_first_fit")


@register(
    "ibis_breadth_first",
    "Baseline (the seed as released): the authors' code's decisions, breadth-first (GPU modeling_bfs, "
    "edgeTPU bfs: same model, else idle, else least utilised; mixed clusters: least utilisation rise); "
    "options as ibis_first_fit",
    "baseline",
    may_violate_slo=True,
    options=IbisOptions,
)
def ibis_breadth_first(instance: Instance, params: SolveParams) -> MethodOutput:
    options = IbisOptions.of(params, instance)
    return run(instance, options, "breadth_first", "breadth_first", "ibis_breadth_first")


@register(
    "ibis_heterogeneous",
    "Baseline (the seed as released): the authors' mixed-cluster service (edgeTPU bfs, GPU modeling_dfs, "
    "the device whose utilisation rises least); options.edgetpu_policy / gpu_policy and the quirks",
    "baseline",
    may_violate_slo=True,
    options=IbisHeterogeneousOptions,
)
def ibis_heterogeneous(instance: Instance, params: SolveParams) -> MethodOutput:
    options = IbisHeterogeneousOptions.of(params, instance)
    return run(instance, options, options.edgetpu_policy, options.gpu_policy, "ibis_heterogeneous")
