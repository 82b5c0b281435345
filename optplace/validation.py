"""Check the latency models against measured data: the seed authors' edgeTPU and Jetson logs.

Two kinds of input (the released ``umassos/ibis`` formats, shipped under ``optplace/data/ibis``):

* **Queueing logs** (``queuing_tpu_*.csv``): one row per request on an edgeTPU serving two or
  three co-located models under Poisson load. Every (``vary_rho``, ``model``) group is a load
  point. Each point is *predicted* from the isolated profiles only (:data:`EDGETPU_PROFILES`,
  the authors' isolated service time and switch overhead per model) and the configured Poisson
  rates (``input_rate``); the log's ``service_rate``, ``rho`` and ``expected_*`` columns are never
  read (``service_rate`` is 1/(s + o), not the isolated rate). Nothing is fitted to the points.
* **Microbenchmarks** (``trt_ps_validation.csv``, ``edgetpu_fcfs_validation.csv``): models run
  alone ("Sequential") and as a batch submitted together ("Concurrent"). The isolated means
  predict the batch under two hypotheses about the device: ideal processor sharing and serial
  FCFS in submission order.

The model variants compared on the queueing logs (:data:`VARIANTS`) and the results are
described in ``docs/validation.md``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from optplace import latency
from optplace.simulation.stations import fcfs_departures, ps_departures
from optplace.simulation.statistics import batch_estimate

DATA_DIR = Path(__file__).resolve().parent / "data" / "ibis"

# The authors' isolated edgeTPU profiles (ms): service time s, switch overhead o. Source: the
# seed paper and its code (umassos/ibis, notebooks/queueing_validation_edgetpu.ipynb, S_dev and
# overhead), also listed in ../shared/BRIEF.md section 2.
EDGETPU_PROFILES: dict[str, tuple[float, float]] = {
    "efficientnet-S": (9.83, 17.33),
    "efficientnet-M": (15.85, 22.63),
    "efficientnet-L": (42.18, 17.53),
    "mobilenet_v1": (4.55, 15.12),
    "mobilenet_v2": (4.91, 10.43),
    "inception_v3": (62.95, 19.39),
    "inception_v4": (125.13, 19.43),
    "ssd_mobilenet_v1": (18.03, 23.93),
    "ssd_mobilenet_v2": (19.23, 24.63),
}

VARIANTS: dict[str, str] = {
    "fcfs_seed": "seed's M/G/1 FCFS: s' = s + (1 - p) o, E[S'^2] = s'^2, Pollaczek-Khinchine",
    "fcfs_bernoulli": "M/G/1 FCFS with a Bernoulli switch (exact second moment), Pollaczek-Khinchine (model v1)",
    "fcfs_dependent": "the exact FCFS-with-switch queue, consecutive switches dependent (model v2, the evaluator's)",
    "fcfs_simulated": "discrete-event simulation of the same FCFS-with-switch queue (exact for its assumptions)",
    "md1_isolated": "M/D/1 per model, ignoring co-location (no other models, no switches)",
    "mm1": "M/M/1 strawman: the FCFS switch model with exponential service (SCV 1)",
}

# The variant whose numbers the evaluator computes (model v2's FCFS mean, through the same dispatch).
EVALUATOR_VARIANT = "fcfs_dependent"

DEFAULT_SIMULATED_REQUESTS = 400_000


def default_queueing_logs() -> list[Path]:
    return sorted(DATA_DIR.glob("queuing_tpu_*.csv"))


def default_microbenchmarks() -> list[Path]:
    return [DATA_DIR / "trt_ps_validation.csv", DATA_DIR / "edgetpu_fcfs_validation.csv"]


def csv_kind(path: str | Path) -> str:
    """``'queueing'`` or ``'microbenchmark'`` from a CSV's header; ValueError otherwise."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    columns = {c.strip() for c in header}
    if {"model", "vary_rho", "input_rate", "start_time", "end_time"} <= columns:
        return "queueing"
    if {"model", "process_type", "response_time"} <= columns:
        return "microbenchmark"
    raise ValueError(
        f"{path}: not a released ibis CSV (a queueing log needs model, vary_rho, input_rate, "
        "start_time, end_time; a microbenchmark needs model, process_type, response_time)"
    )


# --- queueing logs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadPoint:
    """One (load level, model) group of a queueing log, observed and predicted."""

    source: str
    vary_rho: float
    model: str
    requests: int
    rate_rps: float
    colocated: dict[str, float]  # every model on the device at this load level -> its rate
    utilization: float  # predicted device utilisation (switches included)
    observed_ms: float
    observed_ci_ms: float | None  # 95% half-width, batch means over the point's requests
    observed_switch_fraction: float  # share of this model's requests served after another model
    predicted_switch_probability: float  # 1 - lambda_i / Lambda
    predictions: dict[str, float] = field(default_factory=dict)

    def error_percent(self, variant: str) -> float:
        return 100.0 * abs(self.predictions[variant] - self.observed_ms) / self.observed_ms

    def within_ci(self, variant: str) -> bool | None:
        """Whether the prediction lies inside the observed mean's 95% confidence interval."""
        if self.observed_ci_ms is None:
            return None
        return abs(self.predictions[variant] - self.observed_ms) <= self.observed_ci_ms

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "vary_rho": self.vary_rho,
            "model": self.model,
            "requests": self.requests,
            "rate_rps": self.rate_rps,
            "colocated_rps": self.colocated,
            "utilization": self.utilization,
            "observed_ms": self.observed_ms,
            "observed_ci_ms": self.observed_ci_ms,
            "observed_switch_fraction": self.observed_switch_fraction,
            "predicted_switch_probability": self.predicted_switch_probability,
            "predicted_ms": self.predictions,
            "error_percent": {v: self.error_percent(v) for v in self.predictions},
            "within_ci": {v: self.within_ci(v) for v in self.predictions},
        }


@dataclass(frozen=True)
class _Request:
    model: str
    rate: float
    vary_rho: float
    start: float
    end: float
    submit: float
    device_end: float


def read_queueing_log(path: str | Path) -> list[_Request]:
    """Rows of a released queueing log (only the columns the validation uses)."""
    rows: list[_Request] = []
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = [c.strip() for c in next(reader, [])]
        try:
            model, rate, level, start, end = (
                header.index(c) for c in ("model", "input_rate", "vary_rho", "start_time", "end_time")
            )
        except ValueError:
            raise ValueError(
                f"{path}: not a queueing log (needs model, input_rate, vary_rho, start_time, end_time)"
            ) from None
        submit = header.index("tpu_submit_time") if "tpu_submit_time" in header else start
        device_end = header.index("tpu_end_time") if "tpu_end_time" in header else end
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                rows.append(
                    _Request(
                        model=row[model],
                        rate=float(row[rate]),
                        vary_rho=float(row[level]),
                        start=float(row[start]),
                        end=float(row[end]),
                        submit=float(row[submit] or row[start]),
                        device_end=float(row[device_end] or row[end]),
                    )
                )
            except (IndexError, ValueError) as error:
                raise ValueError(f"{path}:{line}: unreadable row ({error})") from None
    if not rows:
        raise ValueError(f"{path}: no requests")
    return rows


def validate_queueing_logs(
    paths: Iterable[str | Path] | None = None,
    *,
    profiles: Mapping[str, tuple[float, float]] | None = None,
    simulate: bool = True,
    simulated_requests: int = DEFAULT_SIMULATED_REQUESTS,
    seed: int = 0,
) -> list[LoadPoint]:
    """Observed vs predicted mean response time for every load point of the given logs."""
    profiles = dict(EDGETPU_PROFILES if profiles is None else profiles)
    points: list[LoadPoint] = []
    for path in list(paths) if paths is not None else default_queueing_logs():
        rows = read_queueing_log(path)
        levels: dict[float, list[_Request]] = defaultdict(list)
        for row in rows:
            levels[row.vary_rho].append(row)
        for level_index, (vary_rho, level_rows) in enumerate(sorted(levels.items())):
            models = list(dict.fromkeys(r.model for r in level_rows))
            unknown = [m for m in models if m not in profiles]
            if unknown:
                raise ValueError(
                    f"{path}: no isolated profile for {unknown}; known: {sorted(profiles)} "
                    "(pass --profiles with service_time_ms and switch_overhead_ms per model)"
                )
            rates = np.array([_nominal_rate(level_rows, m) for m in models])
            s = np.array([profiles[m][0] for m in models])
            o = np.array([profiles[m][1] for m in models])
            predictions = _predict(rates, s, o)
            if simulate:
                rng = np.random.default_rng([seed, level_index, _stable_hash(Path(path).name)])
                predictions["fcfs_simulated"] = _simulate_fcfs(rates, s, o, simulated_requests, rng)
            switched = _switch_fractions(level_rows, models)
            moments = latency.fcfs_moments(rates, s, 0.0, o)
            for index, model in enumerate(models):
                own = sorted((r for r in level_rows if r.model == model), key=lambda r: r.start)
                response = np.array([(r.end - r.start) * 1000.0 for r in own])
                estimate = batch_estimate(response, "mean", batches=10)
                points.append(
                    LoadPoint(
                        source=Path(path).name,
                        vary_rho=vary_rho,
                        model=model,
                        requests=len(own),
                        rate_rps=float(rates[index]),
                        colocated={m: float(r) for m, r in zip(models, rates)},
                        utilization=moments.utilization,
                        observed_ms=float(response.mean()),
                        observed_ci_ms=estimate.half_width,
                        observed_switch_fraction=switched[model],
                        predicted_switch_probability=float(moments.switch_probability[index]),
                        predictions={v: float(values[index]) for v, values in predictions.items()},
                    )
                )
    return points


def mape(points: Iterable[LoadPoint], variant: str) -> float:
    """Mean absolute percentage error of ``variant`` over ``points``."""
    errors = [p.error_percent(variant) for p in points if variant in p.predictions]
    return float(np.mean(errors)) if errors else float("nan")


def mape_table(points: list[LoadPoint]) -> dict[str, float]:
    variants = [v for v in VARIANTS if points and v in points[0].predictions]
    return {v: mape(points, v) for v in variants}


def mape_by_source(points: list[LoadPoint]) -> dict[str, dict[str, float]]:
    """MAPE per variant for each log separately."""
    sources = list(dict.fromkeys(p.source for p in points))
    return {src: mape_table([p for p in points if p.source == src]) for src in sources}


def within_ci_counts(points: list[LoadPoint]) -> dict[str, int]:
    """How many points each variant predicts inside the observed 95% confidence interval."""
    variants = [v for v in VARIANTS if points and v in points[0].predictions]
    return {v: sum(1 for p in points if p.within_ci(v)) for v in variants}


def _nominal_rate(rows: list[_Request], model: str) -> float:
    rates = {r.rate for r in rows if r.model == model}
    if len(rates) != 1:
        raise ValueError(f"model {model!r} has several input_rate values at one load level: {sorted(rates)}")
    return rates.pop()


def _predict(rates: np.ndarray, s: np.ndarray, o: np.ndarray) -> dict[str, np.ndarray]:
    one_class = rates * s / 1000.0
    return {
        "fcfs_seed": latency.fcfs_latency(rates, s, 0.0, o, switch_variance="seed").latency_ms,
        "fcfs_bernoulli": latency.fcfs_latency(rates, s, 0.0, o, switch_variance="bernoulli").latency_ms,
        EVALUATOR_VARIANT: latency.accelerator_latency("fcfs", None, rates, s, 0.0, o).latency_ms,
        "md1_isolated": latency.md1_response_ms(s, one_class),
        "mm1": latency.fcfs_latency(rates, s, 1.0, o, switch_variance="bernoulli").latency_ms,
    }


def _simulate_fcfs(
    rates: np.ndarray, s: np.ndarray, o: np.ndarray, requests: int, rng: np.random.Generator
) -> np.ndarray:
    """Mean response per class of the FCFS-with-switch queue, Poisson arrivals, fixed service."""
    total = float(rates.sum()) / 1000.0
    arrivals = np.cumsum(rng.exponential(1.0 / total, requests))
    classes = rng.choice(len(rates), size=requests, p=rates / rates.sum())
    run = fcfs_departures(arrivals, s[classes], classes, o[classes])
    keep = slice(requests // 10, None)  # drop a 10% warm-up
    response = (run.departure_ms - arrivals)[keep]
    kept = classes[keep]
    return np.array([response[kept == k].mean() for k in range(len(rates))])


def _switch_fractions(rows: list[_Request], models: list[str]) -> dict[str, float]:
    """Share of each model's requests whose predecessor on the device was another model."""
    served = sorted(rows, key=lambda r: r.device_end)
    counts: dict[str, list[int]] = {m: [0, 0] for m in models}
    for before, after in pairwise(served):
        counts[after.model][0] += int(before.model != after.model)
        counts[after.model][1] += 1
    return {m: (c[0] / c[1] if c[1] else float("nan")) for m, c in counts.items()}


def _stable_hash(text: str) -> int:
    return sum((i + 1) * ord(ch) for i, ch in enumerate(text)) % (2**31)


def service_time_diagnostics(paths: Iterable[str | Path] | None = None) -> list[dict]:
    """Per model and log: the device service times the logs imply, next to the profiles.

    A request's on-device service is its completion minus the later of its submission and the
    previous completion (in completion order); it is split by whether the previous request was
    of another model (a switch). Also the share of completions out of submission order (the
    authors' backend is a 10-thread gRPC pool contending for the device, not a strict FIFO).
    These are diagnostics of the data, never inputs to a prediction.
    """
    out: list[dict] = []
    for path in list(paths) if paths is not None else default_queueing_logs():
        rows = read_queueing_log(path)
        levels: dict[float, list[_Request]] = defaultdict(list)
        for row in rows:
            levels[row.vary_rho].append(row)
        per_model: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"same": [], "switch": []})
        disorder: dict[float, float] = {}
        for vary_rho, level_rows in sorted(levels.items()):
            served = sorted(level_rows, key=lambda r: r.device_end)
            submits = np.array([r.submit for r in served])
            disorder[vary_rho] = float(np.mean(np.diff(submits) < 0))
            previous_end = -np.inf
            previous_model = None
            for r in served:
                busy_from = max(r.submit, previous_end)
                key = "same" if previous_model in (None, r.model) else "switch"
                per_model[r.model][key].append((r.device_end - busy_from) * 1000.0)
                previous_end, previous_model = r.device_end, r.model
        for model, groups in sorted(per_model.items()):
            same, switch = np.array(groups["same"]), np.array(groups["switch"])
            profile = EDGETPU_PROFILES.get(model)
            out.append(
                {
                    "source": Path(path).name,
                    "model": model,
                    "profile_service_ms": profile[0] if profile else None,
                    "profile_switch_ms": profile[1] if profile else None,
                    "service_no_switch_mean_ms": float(same.mean()) if same.size else None,
                    "service_no_switch_scv": float(same.var() / same.mean() ** 2) if same.size > 1 else None,
                    "service_with_switch_mean_ms": float(switch.mean()) if switch.size else None,
                    "out_of_order_fraction_by_level": disorder,
                }
            )
    return out


# --- microbenchmarks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    """A microbenchmark: isolated and concurrent means, and each hypothesis' prediction."""

    source: str
    models: list[str]  # in submission order
    rounds: int
    isolated_ms: dict[str, float]
    concurrent_ms: dict[str, float]
    concurrent_ci_ms: dict[str, float | None]
    predictions: dict[str, dict[str, float]]  # hypothesis -> model -> predicted concurrent mean

    def mape(self, hypothesis: str) -> float:
        pred = self.predictions[hypothesis]
        return float(
            np.mean([100.0 * abs(pred[m] - self.concurrent_ms[m]) / self.concurrent_ms[m] for m in self.models])
        )

    def best(self) -> str:
        return min(self.predictions, key=self.mape)

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "models": self.models,
            "rounds": self.rounds,
            "isolated_ms": self.isolated_ms,
            "concurrent_ms": self.concurrent_ms,
            "concurrent_ci_ms": self.concurrent_ci_ms,
            "predicted_ms": self.predictions,
            "mape": {h: self.mape(h) for h in self.predictions},
            "best": self.best(),
        }


HYPOTHESES = {
    "ps": "ideal processor sharing: all jobs start together and share the device equally",
    "fcfs": "serial service in submission order (FCFS), each job after the previous",
}


def validate_microbenchmark(path: str | Path, *, drop_warmup_rounds: int = 1) -> BatchResult:
    """Predict the concurrent runs of a microbenchmark from its isolated runs.

    Rows come in rounds (one row per model per round, in submission order). The first
    ``drop_warmup_rounds`` rounds of both kinds are dropped: they include engine warm-up
    (for example the first isolated Yolo4-tiny run on the Jetson takes 78 ms against 25.5 ms).
    """
    isolated: dict[str, list[float]] = defaultdict(list)
    concurrent: dict[str, list[float]] = defaultdict(list)
    order: list[str] = []
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                kind, model, value = row["process_type"].strip(), row["model"].strip(), float(row["response_time"])
            except (KeyError, ValueError) as error:
                raise ValueError(f"{path}:{line}: unreadable row ({error})") from None
            if kind == "Sequential":
                isolated[model].append(value)
            elif kind == "Concurrent":
                if model not in concurrent:
                    order.append(model)
                concurrent[model].append(value)
            else:
                raise ValueError(f"{path}:{line}: process_type must be Sequential or Concurrent, not {kind!r}")
    missing = [m for m in order if m not in isolated]
    if not order or missing:
        raise ValueError(f"{path}: needs Sequential and Concurrent runs of the same models (missing {missing})")
    iso = {m: float(np.mean(isolated[m][drop_warmup_rounds:])) for m in order}
    con = {m: float(np.mean(concurrent[m][drop_warmup_rounds:])) for m in order}
    ci = {m: batch_estimate(np.array(concurrent[m][drop_warmup_rounds:]), "mean", 10).half_width for m in order}
    sizes = np.array([iso[m] for m in order])
    ps_finish = ps_departures(np.zeros(len(order)), sizes, 1.0)
    fcfs_finish = np.cumsum(sizes)
    return BatchResult(
        source=Path(path).name,
        models=order,
        rounds=min(len(v) for v in concurrent.values()) - drop_warmup_rounds,
        isolated_ms=iso,
        concurrent_ms=con,
        concurrent_ci_ms=ci,
        predictions={
            "ps": {m: float(v) for m, v in zip(order, ps_finish)},
            "fcfs": {m: float(v) for m, v in zip(order, fcfs_finish)},
        },
    )
