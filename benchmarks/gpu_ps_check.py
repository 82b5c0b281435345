"""Processor sharing on a real GPU: measured latency of concurrent model processes against the PS model.

One OS process per model (a torchvision CNN built in code with random weights, ``weights=None``:
nothing is downloaded) serves its own open-loop Poisson stream on one device: arrival times are
drawn in advance, a request waits in the process's queue (FIFO, batch of ``--batch-size`` images)
until the process is free, and arrivals never wait for completions. The processes share the
device the way the driver time-slices them (no MPS), which is what the evaluator models as
multi-class M/G/1 processor sharing.

1. **Isolated runs** (each model alone, at a low load ``--isolated-load``) give the profiles;
   ``optplace.calibrate`` fits them from that log with the device's discipline set to ``ps``.
2. **Mixes** of 2-4 models at several loads (target utilisation split equally between the
   models, from the isolated service times) run concurrently.
3. Every mix is predicted by the evaluator (a one-accelerator instance through
   ``optplace.evaluate``, ``calibration.predict_latency``): mean under the exact PS formula and
   the seed's additive one, p95 under ``ps_quantile``; predicted against measured per model and
   load, with MAPE and predicted/measured ratios, a table and a plot.

Devices: ``--device cuda`` (the check), ``--device cpu`` (the same pipeline on one CPU core, tiny
models, low rates: the harness tested without a GPU; a CPU core is not a GPU) and ``--device fake``
(no torch: each request sleeps, or spins on a shared core, for a given time; the project's tests
use it). Torch is needed only for ``cuda`` and ``cpu`` and is not a dependency of optplace:
``pip install -e ".[gpu-check]"`` or ``pip install torch torchvision``.

The measurement needs only numpy and torch (never optplace), so it can run on a GPU machine where
optplace's dependencies are missing, and the analysis elsewhere::

    python benchmarks/gpu_ps_check.py --device cuda                 # measure and analyse
    python benchmarks/gpu_ps_check.py --device cuda --measure-only --out-prefix DIR/gpu_ps_check
    python benchmarks/gpu_ps_check.py --analyse DIR/gpu_ps_check    # later, where optplace is
    python benchmarks/gpu_ps_check.py --device cpu                  # smoke test on a CPU core

Writes, for a prefix P (default ``benchmarks/results/gpu_ps_check``, ``..._cpu``, ``..._fake``):
``P_isolated.csv`` and ``P_mixes.csv`` (request logs in optplace's plain CSV format,
docs/calibration.md), ``P_run.json`` (settings, device, what each run asked for), and after the
analysis ``P_profiles.json`` (the calibrated profiles document), ``P.md``, ``P.json`` and
``P.png``. How to run it and what it means: docs/validation.md, "Processor sharing on a real GPU".
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import multiprocessing as mp
import os
import platform
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
INSTALL_HINT = (
    'pip install -e ".[gpu-check]"  (or: pip install torch torchvision; on the project\'s CPU-only dev machine '
    "pip install torch==2.14.1 torchvision==0.29.1, which lie on its disk)"
)
DEVICES = ("cuda", "cpu", "fake")
WARMUP_INFERENCES = 10  # after building a model, before anything is timed
PROFILE_INFERENCES = 30  # back-to-back, to size the isolated run's rate
START_LEAD_S = 0.5  # the workers are told a start time this far ahead
DRAIN_FACTOR = 2.0  # a run gives up after its horizon plus this many horizons (plus DRAIN_MIN_S)
DRAIN_MIN_S = 10.0
READY_TIMEOUT_S = 600.0  # building a model (CUDA start-up included), or the longest single request
OBSERVED_BATCHES = 10  # batch-means intervals of the measured statistics (as calibration.diagnostics)
# The columns written, a subset of optplace.calibration.logs.PLAIN_COLUMNS (the tests read the logs back
# with optplace's reader; the measurement must not import optplace, so the names are spelt here).
LOG_COLUMNS = (
    "timestamp_s",
    "model",
    "accelerator",
    "accelerator_type",
    "load",
    "latency_ms",
    "queue_ms",
    "service_ms",
)

DEFAULTS: dict[str, dict[str, Any]] = {
    "cuda": {
        "models": "resnet50,mobilenet_v2,resnet18,efficientnet_b0",
        "loads": "0.2,0.4,0.6,0.8",
        "duration_s": 15.0,
        "warmup_s": 2.0,
        "isolated_requests": 200,
        "isolated_load": 0.1,
        "batch_size": 8,
        "image_size": 224,
    },
    "cpu": {
        "models": "squeezenet1_1,mobilenet_v3_small,shufflenet_v2_x0_5",
        "loads": "0.2,0.4,0.6",
        "duration_s": 8.0,
        "warmup_s": 1.0,
        "isolated_requests": 100,
        "isolated_load": 0.1,
        "batch_size": 1,
        "image_size": 64,
    },
    "fake": {
        "models": "fast:2,medium:5,slow:10",
        "loads": "0.2,0.5,0.8",
        "duration_s": 5.0,
        "warmup_s": 0.5,
        "isolated_requests": 100,
        "isolated_load": 0.1,
        "batch_size": 1,
        "image_size": 0,
    },
}


# --- measurement (numpy and torch only) ----------------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker process serves, and how."""

    model: str
    device: str  # cuda | cpu | fake
    fake_service_ms: float | None  # fake only: the work of one request
    fake_work: str  # fake only: sleep | spin
    batch_size: int
    image_size: int
    cpu_core: int | None  # pin the process to this core (cpu, fake): the core is the shared device
    seed: int


def poisson_arrivals(rate_rps: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times (s) of a Poisson process of ``rate_rps`` on [0, ``duration_s``): cumulated exponential gaps."""
    if not rate_rps > 0 or not duration_s > 0:
        raise ValueError(f"rate_rps and duration_s must be positive, not {rate_rps} and {duration_s}")
    expected = rate_rps * duration_s
    times = np.cumsum(rng.exponential(1.0 / rate_rps, size=int(expected + 6 * math.sqrt(expected) + 10)))
    while times[-1] < duration_s:  # the draw above covers the window except with negligible probability
        times = np.concatenate((times, times[-1] + np.cumsum(rng.exponential(1.0 / rate_rps, size=times.size))))
    return times[times < duration_s]


def serve_arrivals(
    serve: Callable[[], None], t0: float, arrivals_s: np.ndarray, give_up_at: float
) -> dict[str, list[Any]]:
    """Serve requests arriving at ``t0 + arrivals_s`` (monotonic clock) one at a time, in order.

    Open loop: arrival times are fixed in advance; a request that arrives while an earlier one is
    in service waits in this process's queue. Returns per request its start and end of service,
    in seconds from ``t0`` (NaN if not served: the run gave up at ``give_up_at``), and whether it
    found the server idle (the previous request had ended before it arrived).
    """
    count = arrivals_s.size
    start = [math.nan] * count
    end = [math.nan] * count
    found_idle = [False] * count
    previous_end = -math.inf
    for k in range(count):
        due = t0 + float(arrivals_s[k])
        now = time.monotonic()
        if now > give_up_at:
            break
        if now < due:
            time.sleep(due - now)
        began = time.monotonic()
        serve()
        finished = time.monotonic()
        start[k], end[k], found_idle[k] = began - t0, finished - t0, previous_end <= due
        previous_end = finished
    return {"start": start, "end": end, "found_idle": found_idle}


def build_service(spec: WorkerSpec) -> tuple[Callable[[], None], dict[str, Any]]:
    """The function that serves one request of ``spec.model``, and facts about it (versions, device)."""
    if spec.device == "fake":
        seconds = float(spec.fake_service_ms or 0.0) / 1000.0
        if spec.fake_work == "sleep":
            return (lambda: time.sleep(seconds)), {"work": f"sleep {seconds * 1000:g} ms"}

        def spin() -> None:  # CPU time of this thread, so that sharing a core stretches it as PS would
            until = time.thread_time() + seconds
            while time.thread_time() < until:
                pass

        return spin, {"work": f"spin {seconds * 1000:g} ms of CPU time"}
    import torch
    import torchvision

    torch.manual_seed(spec.seed)
    if spec.device == "cpu":
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
    device = torch.device(spec.device)
    model = torchvision.models.get_model(spec.model, weights=None).eval().to(device)
    images = torch.randn(spec.batch_size, 3, spec.image_size, spec.image_size, device=device)

    def infer() -> None:
        with torch.inference_mode():
            model(images).argmax(dim=1).cpu()  # the answer back on the host: waits for the device

    for _ in range(WARMUP_INFERENCES):
        infer()
    facts: dict[str, Any] = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    if spec.device == "cuda":
        facts["device_name"] = torch.cuda.get_device_name(device)
        facts["cuda"] = torch.version.cuda
        facts["memory_reserved_mb"] = round(torch.cuda.max_memory_reserved(device) / 2**20, 1)
    return infer, facts


def _worker(connection: Any, spec: WorkerSpec) -> None:
    """A worker process: build the model, then answer ``profile``, ``run`` and ``stop`` commands."""
    try:
        if spec.cpu_core is not None:
            os.sched_setaffinity(0, {spec.cpu_core})
        serve, facts = build_service(spec)
        connection.send(("ready", facts))
        while True:
            command, *arguments = connection.recv()
            if command == "stop":
                return
            if command == "profile":
                times = []
                for _ in range(arguments[0]):
                    began = time.monotonic()
                    serve()
                    times.append((time.monotonic() - began) * 1000.0)
                connection.send(("profile", times))
            elif command == "run":
                t0, arrivals, give_up_at = arguments
                connection.send(("run", serve_arrivals(serve, t0, np.asarray(arrivals), give_up_at)))
    except BaseException:
        connection.send(("error", traceback.format_exc()))


class Workers:
    """One process per model; started together, driven by commands over pipes."""

    def __init__(self, specs: Sequence[WorkerSpec]):
        context = mp.get_context("spawn")  # CUDA cannot be used in a forked child
        self.connections: dict[str, Any] = {}
        self.processes: dict[str, Any] = {}
        self.facts: dict[str, dict[str, Any]] = {}
        try:
            for spec in specs:
                parent, child = context.Pipe()
                process = context.Process(target=_worker, args=(child, spec), name=f"gpu-ps-{spec.model}", daemon=True)
                process.start()
                self.connections[spec.model], self.processes[spec.model] = parent, process
            for model in self.connections:
                self.facts[model] = self._receive(model, "ready", READY_TIMEOUT_S)
        except BaseException:
            self.close()
            raise

    def _receive(self, model: str, expected: str, timeout_s: float) -> Any:
        """The worker's answer; an error if it failed, died or stayed silent for ``timeout_s``."""
        connection, process = self.connections[model], self.processes[model]
        deadline = time.monotonic() + timeout_s
        while not connection.poll(1.0):
            if not process.is_alive():
                raise RuntimeError(
                    f"worker {model!r} died (exit code {process.exitcode}) before answering {expected!r}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {model!r} did not answer {expected!r} within {timeout_s:g} s")
        kind, payload = connection.recv()
        if kind == "error":
            raise RuntimeError(f"worker {model!r} failed:\n{payload}")
        if kind != expected:
            raise RuntimeError(f"worker {model!r} answered {kind!r}, expected {expected!r}")
        return payload

    def profile(self, model: str, count: int) -> list[float]:
        self.connections[model].send(("profile", count))
        return self._receive(model, "profile", READY_TIMEOUT_S)

    def run(self, arrivals: dict[str, np.ndarray], horizon_s: float) -> tuple[float, dict[str, dict[str, list]]]:
        """Serve ``arrivals`` (model -> times from a common start, s) concurrently; returns the start and timings."""
        t0 = time.monotonic() + START_LEAD_S
        give_up_at = t0 + horizon_s * (1.0 + DRAIN_FACTOR) + DRAIN_MIN_S
        for model, times in arrivals.items():
            self.connections[model].send(("run", t0, times.tolist(), give_up_at))
        timeout = give_up_at - time.monotonic() + READY_TIMEOUT_S  # a run ends by give_up_at plus one request
        return t0, {model: self._receive(model, "run", timeout) for model in arrivals}

    def close(self) -> None:
        for model, connection in self.connections.items():
            with contextlib.suppress(BrokenPipeError, OSError):  # a worker that failed has closed its end
                connection.send(("stop",))
            self.processes[model].join(timeout=30)
            if self.processes[model].is_alive():
                self.processes[model].terminate()


@dataclass(frozen=True)
class Settings:
    """Everything a measurement was asked to do (recorded in ``P_run.json``)."""

    device: str
    models: tuple[str, ...]
    fake_service_ms: dict[str, float]
    fake_work: str
    mixes: tuple[tuple[str, ...], ...]
    loads: tuple[float, ...]
    duration_s: float
    warmup_s: float
    isolated_requests: int
    isolated_load: float
    batch_size: int
    image_size: int
    cpu_core: int | None
    seed: int


def measure(settings: Settings, prefix: Path) -> dict[str, Any]:
    """Isolated runs, then every mix at every load; writes ``prefix``'s two logs and run record."""
    specs = [
        WorkerSpec(
            model=m,
            device=settings.device,
            fake_service_ms=settings.fake_service_ms.get(m),
            fake_work=settings.fake_work,
            batch_size=settings.batch_size,
            image_size=settings.image_size,
            cpu_core=settings.cpu_core,
            seed=settings.seed,
        )
        for m in settings.models
    ]
    session_t0 = time.monotonic()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    workers = Workers(specs)
    try:
        facts = workers.facts[settings.models[0]]
        accelerator, accelerator_type = _device_names(settings, facts)
        isolated_rows: list[list[object]] = []
        mix_rows: list[list[object]] = []
        runs: list[dict[str, Any]] = []
        service_ms: dict[str, float] = {}
        for index, model in enumerate(settings.models):
            rough = float(np.median(workers.profile(model, PROFILE_INFERENCES)))
            rate = settings.isolated_load / (rough / 1000.0)
            duration = settings.isolated_requests / rate
            arrivals = poisson_arrivals(rate, duration, np.random.default_rng([settings.seed, 0, index]))
            t0, timings = workers.run({model: arrivals}, duration)
            label = f"isolated:{model}"
            served = np.asarray(timings[model]["end"]) - np.asarray(timings[model]["start"])
            service_ms[model] = float(np.nanmean(served) * 1000.0)
            isolated_rows += _rows(
                model, arrivals, timings[model], t0 - session_t0, 0.0, label, accelerator, accelerator_type, split=True
            )
            runs.append(
                _run_record(
                    label, "isolated", {model: rate}, settings.isolated_load, duration, 0.0, {model: arrivals}, timings
                )
                | {"profiled_service_ms": {model: rough}, "isolated_service_ms": {model: service_ms[model]}}
            )
            _say(f"{label}: {arrivals.size} requests at {rate:.1f} req/s; mean service {service_ms[model]:.3f} ms")
        for mix_index, mix in enumerate(settings.mixes, start=1):
            for load_index, load in enumerate(settings.loads):
                rates = {m: load / (len(mix) * service_ms[m] / 1000.0) for m in mix}
                horizon = settings.warmup_s + settings.duration_s
                arrivals_by_model = {
                    m: poisson_arrivals(
                        rates[m], horizon, np.random.default_rng([settings.seed, mix_index, load_index, i])
                    )
                    for i, m in enumerate(mix)
                }
                t0, timings = workers.run(arrivals_by_model, horizon)
                label = f"{'+'.join(mix)}@{load:g}"
                for m in mix:
                    mix_rows += _rows(
                        m,
                        arrivals_by_model[m],
                        timings[m],
                        t0 - session_t0,
                        settings.warmup_s,
                        label,
                        accelerator,
                        accelerator_type,
                        split=False,
                    )
                record = _run_record(
                    label, "mix", rates, load, settings.duration_s, settings.warmup_s, arrivals_by_model, timings
                )
                runs.append(record | {"mix": list(mix)})
                unserved = sum(record["unserved"].values())
                _say(
                    f"{label}: {sum(record['requests'].values())} requests"
                    + (f", {unserved} unserved" if unserved else "")
                )
    finally:
        workers.close()
    prefix.parent.mkdir(parents=True, exist_ok=True)
    _write_log(_path(prefix, "_isolated.csv"), isolated_rows)
    _write_log(_path(prefix, "_mixes.csv"), mix_rows)
    record = {
        "settings": asdict(settings),
        "accelerator": accelerator,
        "accelerator_type": accelerator_type,
        "facts": workers.facts,
        "host": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "started": started,
        "wall_s": round(time.monotonic() - session_t0, 1),
        "runs": runs,
        "command": "python benchmarks/gpu_ps_check.py " + " ".join(sys.argv[1:]),
    }
    _path(prefix, "_run.json").write_text(json.dumps(record, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return record


def _device_names(settings: Settings, facts: dict[str, Any]) -> tuple[str, str]:
    """(accelerator, accelerator type) as the logs name them; the type is a valid instance name."""
    if settings.device == "cuda":
        return "cuda:0", re.sub(r"[^a-z0-9]+", "-", str(facts.get("device_name", "gpu")).lower()).strip("-")
    if settings.device == "cpu":
        return f"cpu{settings.cpu_core}", "cpu-core"
    return ("fake", f"fake-{settings.fake_work}")


def _rows(
    model: str,
    arrivals: np.ndarray,
    timing: dict[str, list],
    offset_s: float,
    warmup_s: float,
    label: str,
    accelerator: str,
    accelerator_type: str,
    *,
    split: bool,
) -> list[list[object]]:
    """Plain-log rows of the served requests that arrived after the warm-up (times from the run's start).

    ``split`` (isolated runs): ``service_ms`` is the time in service; ``queue_ms`` the wait behind
    earlier requests of the process, 0 for a request that found the process idle, whose late
    pick-up (sleep overshoot) is then the part outside queue and service: a fixed overhead, which
    calibration folds into the service time. In a mix the time in service includes the slow-down
    the other processes cause, so the split is left unknown (empty).
    """
    start, end = np.asarray(timing["start"]), np.asarray(timing["end"])
    rows: list[list[object]] = []
    for k in np.flatnonzero((arrivals >= warmup_s) & ~np.isnan(end)):
        arrival = float(arrivals[k])
        latency = round((end[k] - arrival) * 1000.0, 4)
        queue = service = ""
        if split:
            waited = 0.0 if timing["found_idle"][k] else round((start[k] - arrival) * 1000.0, 4)
            held = round((end[k] - start[k]) * 1000.0, 4)
            latency = max(latency, waited + held)  # the rounded parts must not exceed the rounded whole
            queue, service = f"{waited:.4f}", f"{held:.4f}"
        rows.append(
            [f"{offset_s + arrival:.6f}", model, accelerator, accelerator_type, label, f"{latency:.4f}", queue, service]
        )
    return rows


def _run_record(
    label: str,
    kind: str,
    rates: dict[str, float],
    load: float,
    duration_s: float,
    warmup_s: float,
    arrivals: dict[str, np.ndarray],
    timings: dict[str, dict[str, list]],
) -> dict[str, Any]:
    return {
        "label": label,
        "kind": kind,
        "target_load": load,
        "rates_rps": rates,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "requests": {m: int(np.sum(a >= warmup_s)) for m, a in arrivals.items()},
        "unserved": {m: int(np.sum(np.isnan(np.asarray(timings[m]["end"])))) for m in arrivals},
    }


def _write_log(path: Path, rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LOG_COLUMNS)
        writer.writerows(rows)


def _path(prefix: Path, suffix: str) -> Path:
    return prefix.with_name(prefix.name + suffix)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- analysis (optplace) ------------------------------------------------------------------------

VARIANTS = (  # (column, statistic, PS variant)
    ("mean_exact", "mean", "exact"),
    ("mean_additive", "mean", "additive"),
    ("p95_exact", "p95", "exact"),
)


def analyse(prefix: Path, out_prefix: Path, *, resamples: int, seed: int) -> dict[str, Any]:
    """Calibrate from the isolated log, predict every mix, compare; writes ``out_prefix``'s outputs."""
    sys.path.insert(0, str(ROOT))
    from optplace.calibration import calibrate, predict_latency, read_log, residuals
    from optplace.simulation.statistics import batch_estimate

    run = json.loads(_path(prefix, "_run.json").read_text(encoding="utf-8"))
    type_name = run["accelerator_type"]
    disciplines = {type_name: "ps"}
    document = calibrate([_path(prefix, "_isolated.csv")], disciplines=disciplines, resamples=resamples, seed=seed)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    _path(out_prefix, "_profiles.json").write_text(document.to_json(), encoding="utf-8")
    profiles = {
        m: {type_name: p.model_dump(exclude_unset=True)} for m, by in document.profiles.items() for p in by.values()
    }
    mixes = read_log(_path(prefix, "_mixes.csv"))
    targets = {r["label"]: r for r in run["runs"]}
    points = residuals([mixes], profiles, disciplines)  # observed mean with its interval, rates, utilisation
    rows: list[dict[str, Any]] = []
    for label in dict.fromkeys(p.load_point for p in points):
        group = [p for p in points if p.load_point == label]
        rates = {p.model: p.rate_rps for p in group}
        predicted = {
            column: predict_latency(
                {m: profiles[m][type_name] for m in rates},
                rates,
                accelerator_type=type_name,
                discipline="ps",
                statistic=statistic,
                ps_model=variant,
            )[0]
            for column, statistic, variant in VARIANTS
        }
        for p in group:
            own = np.flatnonzero((mixes.load_point == label) & (mixes.model == p.model))
            own = own[np.argsort(mixes.arrival_ms[own], kind="stable")]
            p95 = batch_estimate(mixes.latency_ms[own], "p95", batches=OBSERVED_BATCHES)
            rows.append(
                {
                    "mix": "+".join(targets[label]["mix"]),
                    "target_load": targets[label]["target_load"],
                    "load_point": label,
                    "model": p.model,
                    "requests": p.requests,
                    "rate_rps": p.rate_rps,
                    "asked_rate_rps": targets[label]["rates_rps"][p.model],
                    "unserved": targets[label]["unserved"][p.model],
                    "utilization": p.utilization,
                    "measured_mean_ms": p.observed_ms,
                    "measured_mean_ci_ms": p.observed_ci_ms,
                    "measured_p95_ms": p95.value,
                    "measured_p95_ci_ms": p95.half_width,
                    **{f"predicted_{column}_ms": predicted[column].get(p.model) for column, _, _ in VARIANTS},
                }
            )
    report = {
        "device": run["settings"]["device"],
        "accelerator_type": type_name,
        "run": {k: v for k, v in run.items() if k != "runs"},
        "profiles": {m: profiles[m][type_name] for m in profiles},
        "fits": [_fit_summary(f) for f in document.calibration["fits"]] if document.calibration else [],
        "rows": rows,
        "summary": {column: _summary(rows, column) for column, _, _ in VARIANTS},
        "by_mix": {
            mix: {column: _summary([r for r in rows if r["mix"] == mix], column) for column, _, _ in VARIANTS}
            for mix in dict.fromkeys(r["mix"] for r in rows)
        },
        "resamples": resamples,
        "seed": seed,
    }
    text = render(report)
    _path(out_prefix, ".md").write_text(text, encoding="utf-8")
    _path(out_prefix, ".json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    plot(report, _path(out_prefix, ".png"))
    print(text)
    return report


def _fit_summary(fit: dict[str, Any]) -> dict[str, Any]:
    def value(name: str) -> dict[str, Any] | None:
        f = fit.get(name)
        return None if f is None else {k: f[k] for k in ("value", "ci_low", "ci_high", "n")}

    return {
        "model": fit["model"],
        "requests": fit["requests"],
        "service_time_ms": value("service_time_ms"),
        "service_time_scv": value("service_time_scv"),
        "fixed_overhead_ms": value("fixed_overhead_ms"),
    }


def _measured(column: str) -> tuple[str, str]:
    return (
        ("measured_p95_ms", "measured_p95_ci_ms")
        if column.startswith("p95")
        else ("measured_mean_ms", "measured_mean_ci_ms")
    )


def _summary(rows: list[dict[str, Any]], column: str) -> dict[str, Any]:
    """MAPE, predicted/measured ratios, how many points are conservative and inside the measured interval."""
    measured, half = _measured(column)
    usable = [r for r in rows if r[f"predicted_{column}_ms"] is not None]
    if not usable:
        return {"points": 0, "unstable": len(rows)}
    predicted = np.array([r[f"predicted_{column}_ms"] for r in usable])
    observed = np.array([r[measured] for r in usable])
    width = np.array([r[half] if r[half] is not None else 0.0 for r in usable])
    ratio = predicted / observed
    return {
        "points": len(usable),
        "unstable": len(rows) - len(usable),
        "mape_percent": float(100.0 * np.mean(np.abs(ratio - 1.0))),
        "ratio_min": float(ratio.min()),
        "ratio_median": float(np.median(ratio)),
        "ratio_max": float(ratio.max()),
        "conservative": int(np.sum(predicted >= observed)),
        "inside_ci": int(np.sum(np.abs(predicted - observed) <= width)),
    }


def _ms(value: float | None, half: float | None = None) -> str:
    if value is None:
        return "unstable"
    return f"{value:.2f}" if half is None else f"{value:.2f} ± {half:.2f}"


def render(report: dict[str, Any]) -> str:
    """The markdown report: profiles, every (mix, load, model) row, the summary."""
    run, device = report["run"], report["device"]
    settings = run["settings"]
    lines = [f"# Processor sharing on a real device: measured vs predicted ({device})", ""]
    if device == "cpu":
        lines += ["**Smoke test of the harness on one CPU core (Linux scheduler), not a GPU check.**", ""]
    elif device == "fake":
        lines += [
            f"**Harness test without torch: synthetic requests ({settings['fake_work']}), not a device check.**",
            "",
        ]
    facts: dict[str, Any] = next(iter(run["facts"].values()), {})
    lines += [
        f"Accelerator type `{report['accelerator_type']}`; "
        + ", ".join(f"{k} {v}" for k, v in facts.items() if k != "memory_reserved_mb")
        + f"; host: {run['host']['platform']}, {run['host']['cpus']} CPUs, Python {run['host']['python']}; "
        f"started {run['started']}, {run['wall_s']} s.",
        f"Batch {settings['batch_size']}, image {settings['image_size']}, {settings['duration_s']:g} s per load point after "
        f"{settings['warmup_s']:g} s warm-up, isolated runs of {settings['isolated_requests']} requests at load "
        f"{settings['isolated_load']:g}; seed {settings['seed']}; bootstrap {report['resamples']} resamples.",
        f"Command: `{run['command']}`",
        "",
        "## Profiles calibrated from the isolated runs (`optplace.calibrate`, discipline ps)",
        "",
        "| model | requests | service time ms [95% CI] | SCV | fixed overhead ms (folded in) |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for fit in report["fits"]:
        service, scv, fixed = fit["service_time_ms"], fit["service_time_scv"], fit["fixed_overhead_ms"]
        interval = (
            ""
            if service is None or service["ci_low"] is None
            else f" [{service['ci_low']:.3f}, {service['ci_high']:.3f}]"
        )
        scv_text = "" if scv is None else f"{scv['value']:.4f}"
        fixed_text = "" if fixed is None else f"{fixed['value']:.3f}"
        lines.append(
            f"| {fit['model']} | {fit['requests']} | {_ms(service and service['value'])}{interval} | "
            f"{scv_text} | {fixed_text} |"
        )
    lines += [
        "",
        "## Mixes: measured (95% batch-means CI) against the evaluator's PS model",
        "",
        "Ratio = predicted / measured (above 1: conservative). Mean: exact `s/(1-rho)` and the seed's additive "
        "variant; p95: `ps_quantile` (exact mean, exponential slowdown tail). Rates are the realised ones.",
        "",
        "| mix | load asked | utilisation | model | requests | measured mean | exact | ratio | additive | ratio "
        "| measured p95 | predicted p95 | ratio |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["rows"]:
        cells = [
            r["mix"],
            f"{r['target_load']:g}",
            "" if r["utilization"] is None else f"{r['utilization']:.3f}",
            r["model"],
        ]
        cells.append(str(r["requests"]) + (f" ({r['unserved']} unserved)" if r["unserved"] else ""))
        cells.append(_ms(r["measured_mean_ms"], r["measured_mean_ci_ms"]))
        for column in ("mean_exact", "mean_additive"):
            cells += [_ms(r[f"predicted_{column}_ms"]), _ratio(r, column)]
        cells += [
            _ms(r["measured_p95_ms"], r["measured_p95_ci_ms"]),
            _ms(r["predicted_p95_exact_ms"]),
            _ratio(r, "p95_exact"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Summary",
        "",
        "| prediction | points | MAPE | ratio min / median / max | conservative | inside measured CI |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for scope, summaries in [("all", report["summary"]), *report["by_mix"].items()]:
        for column, s in summaries.items():
            if not s["points"]:
                lines.append(f"| {column} ({scope}) | 0 | | | | |")
                continue
            lines.append(
                f"| {column} ({scope}) | {s['points']} | {s['mape_percent']:.1f}% | "
                f"{s['ratio_min']:.2f} / {s['ratio_median']:.2f} / {s['ratio_max']:.2f} | "
                f"{s['conservative']}/{s['points']} | {s['inside_ci']}/{s['points']} |"
            )
    return "\n".join(lines) + "\n"


def _ratio(row: dict[str, Any], column: str) -> str:
    predicted = row[f"predicted_{column}_ms"]
    return "" if predicted is None else f"{predicted / row[_measured(column)[0]]:.2f}"


def plot(report: dict[str, Any], path: Path) -> Path:
    """Measured (with intervals) and predicted mean and p95 against utilisation, one row of panels per mix."""
    from optplace.extras import require

    matplotlib = require("matplotlib", "gpu-check", "the plot of benchmarks/gpu_ps_check.py")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mixes = list(dict.fromkeys(r["mix"] for r in report["rows"]))
    figure, axes = plt.subplots(max(1, len(mixes)), 2, figsize=(11.0, 3.6 * max(1, len(mixes))), squeeze=False)
    for axis_row, mix in zip(axes, mixes):
        rows = [r for r in report["rows"] if r["mix"] == mix and r["utilization"] is not None]
        for axis, (statistic, predictions) in zip(
            axis_row, [("mean", ("mean_exact", "mean_additive")), ("p95", ("p95_exact",))]
        ):
            for index, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
                own = sorted((r for r in rows if r["model"] == model), key=lambda r: r["utilization"])
                x = [r["utilization"] for r in own]
                axis.errorbar(
                    x,
                    [r[f"measured_{statistic}_ms"] for r in own],
                    yerr=[r[f"measured_{statistic}_ci_ms"] or 0.0 for r in own],
                    fmt="o",
                    color=f"C{index}",
                    capsize=3,
                    label=f"{model} measured",
                )
                for column, style in zip(predictions, ("s--", "x:")):
                    axis.plot(
                        x,
                        [r[f"predicted_{column}_ms"] for r in own],
                        style,
                        color=f"C{index}",
                        mfc="none",
                        label=f"{model} {column}",
                    )
            axis.set_title(f"{mix}: {statistic}", fontsize=9)
            axis.set_xlabel("utilisation (calibrated profiles, realised rates)")
            axis.set_ylabel(f"{statistic} response time (ms)")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=6)
    figure.suptitle(f"PS check on {report['accelerator_type']} ({report['device']})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


# --- command line ------------------------------------------------------------------------------


def parse_settings(args: argparse.Namespace) -> Settings:
    """Settings from the command line, each default taken from the device's column of :data:`DEFAULTS`."""
    defaults = DEFAULTS[args.device]

    def pick(name: str) -> Any:
        value = getattr(args, name)
        return defaults[name] if value is None else value

    fake: dict[str, float] = {}
    models: list[str] = []
    for item in [m.strip() for m in pick("models").split(",") if m.strip()]:
        if args.device == "fake":
            name, _, value = item.partition(":")
            try:
                fake[name] = float(value)
            except ValueError:
                raise SystemExit(f"--models: a fake model is NAME:MS (service time in ms), not {item!r}") from None
            if not fake[name] > 0:
                raise SystemExit(f"--models: the service time of {name!r} must be positive")
            item = name
        if item in models:
            raise SystemExit(f"--models: {item!r} appears twice")
        models.append(item)
    if len(models) < 2:
        raise SystemExit("--models: give at least two models (a mix needs two)")
    if args.mix:
        mixes = [tuple(m.strip() for m in mix.split("+")) for mix in args.mix]
        for mix in mixes:
            unknown = [m for m in mix if m not in models]
            if unknown or len(mix) < 2 or len(set(mix)) != len(mix):
                raise SystemExit(
                    f"--mix {'+'.join(mix)}: name two or more distinct models of --models ({','.join(models)})"
                )
    else:
        mixes = [tuple(models[:size]) for size in range(2, min(4, len(models)) + 1)]
    try:
        loads = tuple(float(x) for x in pick("loads").split(","))
    except ValueError:
        raise SystemExit("--loads: comma-separated utilisations such as 0.2,0.4,0.6,0.8") from None
    if not all(0 < x < 1 for x in loads) or not 0 < pick("isolated_load") < 1:
        raise SystemExit("--loads and --isolated-load: utilisations strictly between 0 and 1")
    for name in ("duration_s", "isolated_requests", "batch_size"):
        if not pick(name) > 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive")
    if pick("warmup_s") < 0:
        raise SystemExit("--warmup-s must not be negative")
    core = args.cpu_core
    if core is None and args.device in ("cpu", "fake"):
        core = max(os.sched_getaffinity(0))  # one core shared by every worker: the "device" they share
    if args.device in ("cpu", "cuda"):
        import importlib.util

        if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchvision") is None:
            raise SystemExit(f"--device {args.device} needs torch and torchvision: {INSTALL_HINT}")
    return Settings(
        device=args.device,
        models=tuple(models),
        fake_service_ms=fake,
        fake_work=args.fake_work,
        mixes=tuple(mixes),
        loads=loads,
        duration_s=float(pick("duration_s")),
        warmup_s=float(pick("warmup_s")),
        isolated_requests=int(pick("isolated_requests")),
        isolated_load=float(pick("isolated_load")),
        batch_size=int(pick("batch_size")),
        image_size=int(pick("image_size")),
        cpu_core=core if args.device != "cuda" else args.cpu_core,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--device", choices=DEVICES, default="cuda", help="cuda (the check), cpu (smoke test), fake (no torch)"
    )
    parser.add_argument(
        "--models", help="comma-separated torchvision model names; fake: NAME:MS,... (default per device)"
    )
    parser.add_argument(
        "--mix", action="append", help="models served together, A+B[+C...]; repeat (default: the first 2, 3, 4)"
    )
    parser.add_argument("--loads", help="target utilisations of each mix, comma-separated (default per device)")
    parser.add_argument("--duration-s", type=float, help="measured seconds per load point")
    parser.add_argument("--warmup-s", type=float, help="seconds per load point before measuring")
    parser.add_argument("--isolated-requests", type=int, help="requests per isolated run")
    parser.add_argument("--isolated-load", type=float, help="utilisation of each isolated run")
    parser.add_argument("--batch-size", type=int, help="images per request")
    parser.add_argument("--image-size", type=int, help="image side in pixels")
    parser.add_argument(
        "--fake-work", choices=("sleep", "spin"), default="sleep", help="fake: how a request takes its time"
    )
    parser.add_argument(
        "--cpu-core", type=int, help="cpu/fake: the one core every worker is pinned to (default: the last)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the calibration")
    parser.add_argument(
        "--out-prefix", type=Path, help="where the files go (default benchmarks/results/gpu_ps_check[_cpu|_fake])"
    )
    parser.add_argument("--measure-only", action="store_true", help="write the logs and stop (no optplace needed)")
    parser.add_argument(
        "--analyse", type=Path, metavar="PREFIX", help="analyse the logs of an earlier --measure-only run"
    )
    args = parser.parse_args(argv)
    if args.analyse is not None:
        if args.measure_only:
            raise SystemExit("--analyse and --measure-only exclude each other")
        analyse(args.analyse, args.out_prefix or args.analyse, resamples=args.resamples, seed=args.seed)
        return 0
    settings = parse_settings(args)
    prefix = args.out_prefix or RESULTS / ("gpu_ps_check" if args.device == "cuda" else f"gpu_ps_check_{args.device}")
    planned = len(settings.mixes) * len(settings.loads) * (settings.duration_s + settings.warmup_s + START_LEAD_S)
    _say(
        f"{args.device}: {len(settings.mixes)} mixes x {len(settings.loads)} loads, about {planned:.0f} s of mixes after the isolated runs"
    )
    measure(settings, prefix)
    if not args.measure_only:
        analyse(prefix, prefix, resamples=args.resamples, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
