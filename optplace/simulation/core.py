"""Discrete-event simulation of a placed cluster, discipline by discipline as the models assume.

What is simulated (each station on its own sorted arrival array, because the network is
feed-forward: front end -> network -> accelerator):

1. **Arrivals** per application: Poisson, gamma renewal or a replayed trace
   (:mod:`optplace.simulation.arrivals`), each application with its own random stream.
2. **Front end** per node: the CPU pre-processing of every application on the node with
   ``preprocess_ms > 0`` shares ``preprocess_cores`` cores as request-level processor sharing
   where one request uses at most one core (rate ``min(1, cores / n)`` each; a fractional
   ``cores`` is a share of one core). ``latency.multicore_ps_latency`` is the exact mean of this
   stage; the evaluator's ``latency.frontend_latency`` pools the cores into one PS server
   (``s / (1 - rho)``), which is conservative for ``cores >= 1`` and optimistic below one core
   (``docs/validation.md``).
3. **Network**: a constant delay (``settings.network_delay_ms``).
4. **Accelerator**: requests of applications that share a backend (same shareable model on the
   same accelerator) form one class. ``ps`` is request-level processor sharing; ``fcfs`` and
   ``dedicated`` are one queue in arrival order that pays the backend's switch overhead when
   the previously served request used another backend. Service times are gamma with the
   profile's mean and SCV (deterministic when the SCV is 0); the switch overhead is constant:
   the profile's, or, on a device the evaluator runs with a co-compilation group
   (``AcceleratorEvaluation.cocompilation_group``, :mod:`optplace.cocompilation`), the group's.

Statistics are taken over the requests that *arrive* after the warm-up and before the horizon;
every request is served to completion, so there is no end-of-run censoring.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from optplace.cocompilation import Compilations
from optplace.domain import Application, Discipline, Instance
from optplace.evaluate import backend_key, evaluate
from optplace.simulation.arrivals import ArrivalProcess, arrival_times_ms
from optplace.simulation.guard import Verdict, judge
from optplace.simulation.stations import fcfs_departures, ps_departures
from optplace.simulation.statistics import Estimate, batch_estimate

DEFAULT_REQUESTS_PER_APP = 20_000
DEFAULT_WARMUP_FRACTION = 0.1
REPORTED_STATISTICS = ("mean", "p50", "p95", "p99")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")


class ApplicationSimulation(_Out):
    application: str
    accelerator: str
    node: str
    requests: int  # measured requests (arrived inside the measurement window)
    mean_ms: Estimate
    p50_ms: Estimate
    p95_ms: Estimate
    p99_ms: Estimate
    frontend_mean_ms: float
    accelerator_mean_ms: float
    statistic: str  # the SLO's statistic
    slo_ms: float
    simulated_ms: Estimate  # the SLO's statistic, simulated
    predicted_ms: float | None  # the SLO's statistic, from the analytic model (evaluator)
    meets_slo: bool  # simulated point estimate <= SLO
    violation_significant: bool  # the whole confidence interval lies above the SLO


class AcceleratorSimulation(_Out):
    accelerator: str
    node: str
    discipline: Discipline
    applications: list[str]
    utilization: float  # work (service + switches) arriving in the window / window length
    predicted_utilization: float
    switch_fraction: float | None  # fcfs/dedicated: share of requests that paid a switch


class NodeSimulation(_Out):
    node: str
    frontend_utilization: float
    predicted_frontend_utilization: float


@dataclass(frozen=True)
class AcceleratorRequests:
    """Every request served by one accelerator, for request logs (``simulate(request_log=...)``).

    Times in ms from the start of the run; one entry per request in the accelerator's arrival
    order. ``service_ms`` is the time the request held the device (its switch included) under
    ``fcfs``/``dedicated``, and its work under ``ps``; ``measured`` marks requests that arrived
    inside the measurement window.
    """

    accelerator: str
    accelerator_type: str
    applications: list[str]
    models: list[str]  # model of each application
    memory_mb: list[float]  # backend memory of each application's profile
    owner: np.ndarray  # index into applications, per request
    arrival_ms: np.ndarray  # arrival at the application, before the front end and network
    accelerator_arrival_ms: np.ndarray
    service_ms: np.ndarray
    departure_ms: np.ndarray
    measured: np.ndarray


class SimulationReport(_Out):
    """Per-application latency statistics (with 95% CIs), loads and observed SLO violations."""

    seed: int
    arrivals: str
    horizon_s: float
    warmup_s: float
    batches: int
    requests_simulated: int
    runtime_s: float
    applications: list[ApplicationSimulation]
    accelerators: list[AcceleratorSimulation]
    nodes: list[NodeSimulation]
    violations: list[str]  # applications whose simulated SLO statistic exceeds the SLO

    def application(self, name: str) -> ApplicationSimulation:
        for app in self.applications:
            if app.application == name:
                return app
        raise KeyError(name)


def simulate(
    instance: Instance,
    placement: Mapping[str, str],
    *,
    requests_per_app: int | None = None,
    requests_per_accelerator: int | None = None,
    duration_s: float | None = None,
    seed: int = 0,
    arrivals: str | ArrivalProcess = "poisson",
    warmup_s: float | None = None,
    batches: int = 20,
    max_requests: int | None = None,
    request_log: list[AcceleratorRequests] | None = None,
) -> SimulationReport:
    """Simulate ``placement`` on ``instance`` and report latency statistics per application.

    Give one of ``requests_per_app`` (the measured horizon is chosen so that the slowest placed
    application expects that many requests), ``requests_per_accelerator`` (so that the used
    accelerator with the least arrival rate expects that many) or ``duration_s`` (the measured
    horizon); with none, ``requests_per_app`` defaults to 20,000. ``warmup_s`` defaults to 10% of
    the horizon; requests arriving during it are simulated but not measured. ``max_requests``
    bounds the work: the horizon (and a default warm-up with it) shrinks so that the expected
    number of simulated requests, warm-up included, stays within it; ``horizon_s`` in the report
    says what was simulated. ``arrivals`` is ``"poisson"`` or an :class:`ArrivalProcess` (gamma
    renewal or trace replay). The same seed, instance and placement give the same report. When
    ``request_log`` is a list, one :class:`AcceleratorRequests` per used accelerator is appended
    to it (for request logs).
    """
    started = time.perf_counter()
    process = arrivals if isinstance(arrivals, ArrivalProcess) else ArrivalProcess(kind=arrivals)
    apps = {a.name: a for a in instance.applications}
    located = {acc.name: (node, acc) for node, acc in instance.accelerators()}
    _check_placement(instance, placement, apps, located)
    if batches < 2:
        raise ValueError("batches must be at least 2")
    placed = [a for a in instance.applications if a.name in placement]

    sizes_given = [x is not None for x in (requests_per_app, requests_per_accelerator, duration_s)]
    if sum(sizes_given) > 1:
        raise ValueError("give one of requests_per_app, requests_per_accelerator or duration_s")
    if duration_s is not None:
        if not duration_s > 0:
            raise ValueError("duration_s must be positive")
        horizon_ms = duration_s * 1000.0
    elif requests_per_accelerator is not None:
        if requests_per_accelerator <= 0:
            raise ValueError("requests_per_accelerator must be positive")
        accelerator_rate: dict[str, float] = defaultdict(float)
        for app in placed:
            accelerator_rate[placement[app.name]] += app.rate_rps
        quietest = min(accelerator_rate.values(), default=1.0)
        horizon_ms = requests_per_accelerator / quietest * 1000.0
    else:
        count = DEFAULT_REQUESTS_PER_APP if requests_per_app is None else requests_per_app
        if count <= 0:
            raise ValueError("requests_per_app must be positive")
        slowest = min((a.rate_rps for a in placed), default=1.0)
        horizon_ms = count / slowest * 1000.0
    if warmup_s is not None and warmup_s < 0:
        raise ValueError("warmup_s must be non-negative")
    if max_requests is not None:
        if max_requests <= 0:
            raise ValueError("max_requests must be positive")
        total_rate_per_ms = sum(a.rate_rps for a in placed) / 1000.0
        if total_rate_per_ms > 0:
            # Expected requests = rate x (warm-up + horizon); shrink the horizon to fit the budget.
            fixed_warmup_ms = 0.0 if warmup_s is None else warmup_s * 1000.0
            warmup_share = DEFAULT_WARMUP_FRACTION if warmup_s is None else 0.0
            affordable_ms = (max_requests / total_rate_per_ms - fixed_warmup_ms) / (1.0 + warmup_share)
            if affordable_ms <= 0:
                raise ValueError("max_requests is too small for the warm-up asked for")
            horizon_ms = min(horizon_ms, affordable_ms)
    warmup_ms = DEFAULT_WARMUP_FRACTION * horizon_ms if warmup_s is None else warmup_s * 1000.0
    end_ms = warmup_ms + horizon_ms

    # One independent stream per application (by its index in the instance, so that a stream
    # does not depend on which other applications are placed): arrivals, then service times.
    streams = np.random.SeedSequence(seed).spawn(len(instance.applications))
    index_of = {a.name: i for i, a in enumerate(instance.applications)}
    rngs = {a.name: [np.random.default_rng(s) for s in streams[index_of[a.name]].spawn(2)] for a in placed}

    arrival = {a.name: arrival_times_ms(a.rate_rps, end_ms, process, rngs[a.name][0]) for a in placed}
    total_requests = int(sum(len(v) for v in arrival.values()))

    # Front end per node.
    frontend_done: dict[str, np.ndarray] = {}
    frontend_busy: dict[str, float] = {}
    by_node: dict[str, list[Application]] = defaultdict(list)
    for app in placed:
        by_node[located[placement[app.name]][0].name].append(app)
    nodes_by_name = {n.name: n for n in instance.nodes}
    for node_name, node_apps in by_node.items():
        busy = [a for a in node_apps if a.preprocess_ms > 0]
        for app in node_apps:
            if app.preprocess_ms <= 0:
                frontend_done[app.name] = arrival[app.name]
        if not busy:
            continue
        times, owner, order = _merge([arrival[a.name] for a in busy])
        sizes = np.array([a.preprocess_ms for a in busy])[owner]
        departure = ps_departures(times, sizes, nodes_by_name[node_name].preprocess_cores)
        frontend_busy[node_name] = float(sizes[(times >= warmup_ms) & (times < end_ms)].sum())
        _scatter(departure, owner, order, busy, frontend_done)

    # Network, then each accelerator.
    network = instance.settings.network_delay_ms
    types = instance.accelerator_type_map()
    models = instance.model_map()
    done: dict[str, np.ndarray] = {}
    acc_reports: list[AcceleratorSimulation] = []
    evaluation = evaluate(instance, placement)
    predicted_util = {a.accelerator: a.utilization for a in evaluation.accelerators}
    compiled_with = {a.accelerator: a.cocompilation_group for a in evaluation.accelerators}
    compilations = Compilations(instance)
    for node, acc in instance.accelerators():
        hosted = [a for a in placed if placement[a.name] == acc.name]
        if not hosted:
            continue
        discipline = types[acc.type].discipline
        keys = [backend_key(a, models[a.model].shareable) for a in hosted]
        backend_ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        times, owner, order = _merge([frontend_done[a.name] + network for a in hosted])
        service = np.empty(times.size)
        for row, app in enumerate(hosted):
            mask = owner == row
            profile = models[app.model].profiles[acc.type]
            service[mask] = _service_times(profile.service_time_ms, profile.scv, int(mask.sum()), rngs[app.name][1])
        backend = np.array([backend_ids[k] for k in keys], dtype=np.intp)[owner]
        window = _in_window(times, owner, hosted, arrival, order, warmup_ms, end_ms)
        switch_fraction: float | None = None
        if discipline == Discipline.PS:
            departure = ps_departures(times, service, 1.0)
            work = service
        else:
            group = compiled_with.get(acc.name)
            switch = np.array(
                [
                    compilations.switch_ms(group, a.model, models[a.model].profiles[acc.type].switch_overhead_ms)
                    for a in hosted
                ]
            )[owner]
            run = fcfs_departures(times, service, backend, switch)
            departure, work = run.departure_ms, run.service_ms
            switch_fraction = float(run.switched[window].mean()) if window.any() else None
        _scatter(departure, owner, order, hosted, done)
        if request_log is not None:
            request_log.append(
                AcceleratorRequests(
                    accelerator=acc.name,
                    accelerator_type=acc.type,
                    applications=[a.name for a in hosted],
                    models=[a.model for a in hosted],
                    memory_mb=[models[a.model].profiles[acc.type].memory_mb for a in hosted],
                    owner=owner,
                    arrival_ms=np.concatenate([arrival[a.name] for a in hosted])[order],
                    accelerator_arrival_ms=times,
                    service_ms=work,
                    departure_ms=departure,
                    measured=window,
                )
            )
        acc_reports.append(
            AcceleratorSimulation(
                accelerator=acc.name,
                node=node.name,
                discipline=discipline,
                applications=[a.name for a in hosted],
                utilization=float(work[window].sum() / horizon_ms),
                predicted_utilization=predicted_util.get(acc.name, 0.0),
                switch_fraction=switch_fraction,
            )
        )

    predicted = {a.application: a.latency_ms for a in evaluation.applications}
    app_reports: list[ApplicationSimulation] = []
    for app in placed:
        a_times = arrival[app.name]
        measured = (a_times >= warmup_ms) & (a_times < end_ms)
        response = (done[app.name] - a_times)[measured]
        pre = (frontend_done[app.name] - a_times)[measured]
        acc_part = (done[app.name] - frontend_done[app.name] - network)[measured]
        estimates = {s: batch_estimate(response, s, batches) for s in REPORTED_STATISTICS}
        simulated = estimates.get(app.slo.statistic) or batch_estimate(response, app.slo.statistic, batches)
        node_name = located[placement[app.name]][0].name
        app_reports.append(
            ApplicationSimulation(
                application=app.name,
                accelerator=placement[app.name],
                node=node_name,
                requests=int(response.size),
                mean_ms=estimates["mean"],
                p50_ms=estimates["p50"],
                p95_ms=estimates["p95"],
                p99_ms=estimates["p99"],
                frontend_mean_ms=float(pre.mean()) if pre.size else 0.0,
                accelerator_mean_ms=float(acc_part.mean()) if acc_part.size else 0.0,
                statistic=app.slo.statistic,
                slo_ms=app.slo.latency_ms,
                simulated_ms=simulated,
                predicted_ms=predicted.get(app.name),
                meets_slo=bool(simulated.value <= app.slo.latency_ms),
                violation_significant=judge(simulated, app.slo.latency_ms) == Verdict.SURE_VIOLATION,
            )
        )

    predicted_frontend = {n.node: n.frontend_utilization for n in evaluation.nodes}
    node_reports = [
        NodeSimulation(
            node=name,
            frontend_utilization=frontend_busy.get(name, 0.0) / horizon_ms / nodes_by_name[name].preprocess_cores,
            predicted_frontend_utilization=predicted_frontend.get(name, 0.0),
        )
        for name in (n.name for n in instance.nodes)
        if name in by_node
    ]
    return SimulationReport(
        seed=seed,
        arrivals=process.describe(),
        horizon_s=horizon_ms / 1000.0,
        warmup_s=warmup_ms / 1000.0,
        batches=batches,
        requests_simulated=total_requests,
        runtime_s=time.perf_counter() - started,
        applications=app_reports,
        accelerators=acc_reports,
        nodes=node_reports,
        violations=[a.application for a in app_reports if not a.meets_slo],
    )


def _check_placement(instance: Instance, placement: Mapping[str, str], apps: dict, located: dict) -> None:
    unknown_apps = sorted(set(placement) - set(apps))
    if unknown_apps:
        raise ValueError(f"placement names unknown applications: {unknown_apps[:5]}")
    unknown_accs = sorted({a for a in placement.values() if a not in located})
    if unknown_accs:
        raise ValueError(f"placement names unknown accelerators: {unknown_accs[:5]}")
    models = instance.model_map()
    for app_name, acc_name in placement.items():
        acc_type = located[acc_name][1].type
        if acc_type not in models[apps[app_name].model].profiles:
            raise ValueError(
                f"application {app_name!r} is placed on {acc_name!r}, but model {apps[app_name].model!r} "
                f"has no profile for accelerator type {acc_type!r}: nothing to simulate"
            )


def _merge(streams: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate per-application arrival arrays, sorted; return times, owner row, sort order."""
    times = np.concatenate(streams) if streams else np.empty(0)
    owner = np.concatenate([np.full(len(s), i, dtype=np.intp) for i, s in enumerate(streams)])
    order = np.argsort(times, kind="stable")
    return times[order], owner[order], order


def _scatter(values: np.ndarray, owner: np.ndarray, order: np.ndarray, apps: list[Application], out: dict) -> None:
    """Undo :func:`_merge`: give each application its values in its own arrival order."""
    unsorted = np.empty_like(values)
    unsorted[order] = values
    counts = np.bincount(owner, minlength=len(apps))
    start = 0
    for app, count in zip(apps, counts.tolist()):
        out[app.name] = unsorted[start : start + count]
        start += count


def _in_window(
    times: np.ndarray,
    owner: np.ndarray,
    apps: list[Application],
    arrival: dict[str, np.ndarray],
    order: np.ndarray,
    warmup_ms: float,
    end_ms: float,
) -> np.ndarray:
    """Mask (in station order) of requests whose *original* arrival lies in the window."""
    original = np.concatenate([arrival[a.name] for a in apps])[order]
    return (original >= warmup_ms) & (original < end_ms)


def _service_times(mean_ms: float, scv: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """Gamma service times with the given mean and SCV; constant when the SCV is 0."""
    if scv <= 0:
        return np.full(count, mean_ms)
    shape = 1.0 / scv
    return rng.gamma(shape, mean_ms / shape, size=count)
