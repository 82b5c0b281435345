"""Fit profile parameters, with confidence intervals, from request logs.

Per (accelerator type, model), from the requests of every log (``optplace.calibration.logs``):

* **Service time** (mean) and its **SCV**: over requests whose service time is known and that did
  not pay a switch. The service time is known where the log splits the response time
  (``service_ms``); in a log without the split, only for requests that had the accelerator to
  themselves for their whole stay (no other request's [arrival, completion) interval overlaps
  theirs), whose service time is then their response time (any fixed overhead included).
* **Switch overhead** (``fcfs``/``dedicated`` types): a request paid a switch when the request
  served just before it on the same device (completion order, within one load point) was of
  another model. Overhead = mean service of switched requests - mean service of the others; per
  ordered pair (previous model -> this model) too, where the pair has at least
  :data:`MIN_PAIR_SWITCHES` switches. The first request of each timeline is not classified.
* **Fixed per-request overhead**: the part of the response time outside the queue and the
  service (``latency - queue - service``), averaged over requests that did not queue, so that
  contention elsewhere in the host (a thread pool, say) stays out of it. Only where the log
  splits the response time; otherwise it is inside the service time and reported as such.
* **Memory**: the largest ``memory_mb`` logged (a capacity must cover the peak).

Confidence intervals are 95% percentile-bootstrap intervals (:data:`BOOTSTRAP_RESAMPLES`
resamples of the requests, with replacement, separately within each subset a statistic compares:
switched and not switched), seeded, so a calibration is reproducible. The resampling treats
requests as independent, which holds for service times on one device (each is its own
inference) but not for waiting times, which are never fitted here. Memory gets no interval (a
maximum has no useful bootstrap), only its range.

A parameter is *shown by the data* when its interval excludes zero; the fit still reports its
point estimate, clipped at zero for the profile (a negative overhead is noise).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from optplace.calibration.logs import FloatArray, RequestLog

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95
MIN_PAIR_SWITCHES = 30  # switches of one ordered pair before it gets its own overhead
MIN_SAMPLES = 10  # observations before an interval is given
_BOOTSTRAP_CELLS = 2_000_000  # resampled values held at once (memory bound of one chunk)
QUEUE_TOLERANCE_MS = 1e-6
SWITCHING_DISCIPLINES = ("fcfs", "dedicated")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="null")


class Fitted(_Out):
    """One fitted parameter: point estimate, 95% interval (None when too few data), sample size."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = Field(ge=0, description="observations the estimate uses")
    method: str = Field(description="how the interval was obtained")

    @property
    def shown(self) -> bool:
        """Whether the interval lies above zero (the data show a positive value)."""
        return self.ci_low is not None and self.ci_low > 0

    def covers(self, value: float, tolerance: float = 0.0) -> bool:
        """Whether ``value`` lies inside the interval (widened by ``tolerance``)."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low - tolerance <= value <= self.ci_high + tolerance


class PairSwitch(_Out):
    """Switch overhead paid by ``to_model`` when the device last served ``from_model``."""

    from_model: str
    to_model: str
    switch_overhead_ms: Fitted


class ModelFit(_Out):
    """Everything fitted for one model on one accelerator type."""

    model: str
    accelerator_type: str
    discipline: str
    requests: int = Field(description="requests of this model in the logs")
    service_time_ms: Fitted | None
    service_time_scv: Fitted | None
    switch_overhead_ms: Fitted | None
    switch_pairs: list[PairSwitch] = Field(default_factory=list)
    fixed_overhead_ms: Fitted | None
    memory_mb: Fitted | None
    sources: list[str]
    notes: list[str] = Field(default_factory=list)

    def profile(self) -> dict[str, float]:
        """The fit as instance profile fields (``optplace.domain.Profile``).

        The fixed overhead, when there is one, is folded into the service time: the instance has
        no separate term for it, and a longer service time can only raise every predicted
        latency (utilisation and wait grow with it), so the fold errs on the safe side. The SCV
        is rescaled so that the variance stays the one measured.
        """
        if self.service_time_ms is None:
            raise ValueError(f"{self.model}@{self.accelerator_type}: no service time was fitted")
        service = max(self.service_time_ms.value, 1e-9)
        fixed = max(self.fixed_overhead_ms.value, 0.0) if self.fixed_overhead_ms is not None else 0.0
        out: dict[str, float] = {"service_time_ms": _round(service + fixed)}
        if self.service_time_scv is not None:
            out["service_time_scv"] = _round(max(self.service_time_scv.value, 0.0) * (service / (service + fixed)) ** 2)
        if self.switch_overhead_ms is not None:
            out["switch_overhead_ms"] = _round(max(self.switch_overhead_ms.value, 0.0))
        if self.memory_mb is not None:
            out["memory_mb"] = _round(self.memory_mb.value)
        return out


def _round(value: float) -> float:
    return float(f"{value:.6g}")


@dataclass(frozen=True)
class _Requests:
    """All logs concatenated, with what the estimators need per request."""

    model: NDArray[np.object_]
    accelerator_type: NDArray[np.object_]
    source: NDArray[np.object_]
    service_ms: FloatArray  # NaN where unknown
    queue_ms: FloatArray  # NaN where unknown
    fixed_ms: FloatArray  # NaN where the log does not split the response time
    memory_mb: FloatArray
    previous_model: NDArray[np.object_]  # None for the first request of a timeline


def fit_models(
    logs: Sequence[RequestLog],
    *,
    disciplines: Mapping[str, str] | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> list[ModelFit]:
    """Fit every (accelerator type, model) in ``logs``; ``disciplines`` maps a type to its discipline.

    A type not in ``disciplines`` is taken as ``fcfs`` (switch overhead estimated). For a
    processor-sharing type pass ``"ps"``: no switch is estimated there.
    """
    if not logs:
        raise ValueError("no logs to calibrate from")
    if resamples < 100:
        raise ValueError("resamples must be at least 100")
    disciplines = dict(disciplines or {})
    requests = _prepare(logs)
    keys = sorted(set(zip(requests.accelerator_type.tolist(), requests.model.tolist())))
    fits = []
    for index, (type_name, model) in enumerate(keys):
        discipline = disciplines.get(type_name, "fcfs")
        if discipline not in ("fcfs", "ps", "dedicated"):
            raise ValueError(f"discipline of {type_name!r} must be fcfs, ps or dedicated, not {discipline!r}")
        rng = np.random.default_rng([seed, index])
        mask = (requests.accelerator_type == type_name) & (requests.model == model)
        fits.append(_fit_one(requests, mask, model, type_name, discipline, resamples, rng))
    return fits


def _prepare(logs: Sequence[RequestLog]) -> _Requests:
    parts: dict[str, list] = defaultdict(list)
    for log in logs:
        service = log.service_ms.copy()
        queue = log.queue_ms.copy()
        fixed = np.where(log.has_split, log.latency_ms - log.queue_ms - log.service_ms, np.nan)
        previous = np.empty(len(log), dtype=object)
        timelines: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row, key in enumerate(zip(log.accelerator.tolist(), log.load_point.tolist())):
            timelines[key].append(row)
        completion = log.completion_ms
        for rows_list in timelines.values():
            rows = np.asarray(rows_list, dtype=np.intp)
            order = rows[np.argsort(completion[rows], kind="stable")]
            previous[order[0]] = None
            previous[order[1:]] = log.model[order[:-1]]
            alone = _alone(log.arrival_ms[rows], completion[rows])
            unsplit = rows[alone & ~log.has_split[rows]]
            service[unsplit] = log.latency_ms[unsplit]
            queue[unsplit] = 0.0
        parts["model"].append(log.model)
        parts["accelerator_type"].append(log.accelerator_type)
        parts["source"].append(np.full(len(log), log.source, dtype=object))
        parts["service_ms"].append(service)
        parts["queue_ms"].append(queue)
        parts["fixed_ms"].append(fixed)
        parts["memory_mb"].append(log.memory_mb)
        parts["previous_model"].append(previous)
    return _Requests(**{name: np.concatenate(values) for name, values in parts.items()})


def _alone(arrival: FloatArray, completion: FloatArray) -> NDArray[np.bool_]:
    """Requests whose [arrival, completion) interval overlaps no other request's."""
    order = np.argsort(arrival, kind="stable")
    a, c = arrival[order], completion[order]
    before = np.concatenate(([-np.inf], np.maximum.accumulate(c)[:-1]))  # latest completion of earlier arrivals
    after = np.concatenate((a[1:], [np.inf]))  # next arrival
    alone_sorted = (before <= a) & (after >= c)
    out = np.empty(arrival.size, dtype=bool)
    out[order] = alone_sorted
    return out


def _fit_one(
    requests: _Requests,
    mask: NDArray[np.bool_],
    model: str,
    type_name: str,
    discipline: str,
    resamples: int,
    rng: np.random.Generator,
) -> ModelFit:
    notes: list[str] = []
    service = requests.service_ms[mask]
    previous = requests.previous_model[mask]
    known = ~np.isnan(service)
    switching = discipline in SWITCHING_DISCIPLINES
    if switching:
        classified = known & np.array([p is not None for p in previous], dtype=bool)
        same = classified & (previous == model)
        switched = classified & (previous != model)
    else:
        same = known
        switched = np.zeros_like(known)
    base = service[same]
    if switching and base.size == 0 and switched.any():
        notes.append(
            "every observed request followed another model, so service time and switch overhead cannot be "
            "told apart: the service time below includes the switch and no switch overhead is fitted"
        )
        base, switched = service[switched], np.zeros_like(switched)
    if not known.any():
        notes.append("no request with a known service time (no split, and none had the device to itself)")
    service_fit = _mean_fit(base, resamples, rng) if base.size else None
    scv_fit = _scv_fit(base, resamples, rng) if base.size >= 2 else None
    switch_fit: Fitted | None = None
    pairs: list[PairSwitch] = []
    if switching and base.size and switched.any():
        switch_fit = _difference_fit(base, service[switched], resamples, rng)
        for other in sorted({p for p in previous[switched].tolist()}):
            paid = service[switched & (previous == other)]
            if paid.size >= MIN_PAIR_SWITCHES:
                pairs.append(
                    PairSwitch(
                        from_model=other,
                        to_model=model,
                        switch_overhead_ms=_difference_fit(base, paid, resamples, rng),
                    )
                )
    elif switching and base.size:
        notes.append("no request of this model followed another model: no switch overhead to fit")
    fixed = requests.fixed_ms[mask]
    unqueued = ~np.isnan(fixed) & (requests.queue_ms[mask] <= QUEUE_TOLERANCE_MS)
    fixed_fit = _mean_fit(fixed[unqueued], resamples, rng) if unqueued.any() else None
    if fixed_fit is None and known.any():
        notes.append("the logs do not split the response time: any fixed overhead is inside the service time")
    memory = requests.memory_mb[mask]
    memory = memory[~np.isnan(memory)]
    memory_fit = (
        Fitted(
            value=float(memory.max()),
            ci_low=float(memory.min()),
            ci_high=float(memory.max()),
            n=int(memory.size),
            method="largest logged value; the interval is the logged range",
        )
        if memory.size
        else None
    )
    return ModelFit(
        model=model,
        accelerator_type=type_name,
        discipline=discipline,
        requests=int(mask.sum()),
        service_time_ms=service_fit,
        service_time_scv=scv_fit,
        switch_overhead_ms=switch_fit,
        switch_pairs=pairs,
        fixed_overhead_ms=fixed_fit,
        memory_mb=memory_fit,
        sources=sorted(set(requests.source[mask].tolist())),
        notes=notes,
    )


# --- estimators with bootstrap intervals ---------------------------------------------------------

_METHOD = f"percentile bootstrap, {{resamples}} resamples, {100 * CONFIDENCE:g}%"


def _mean_fit(x: FloatArray, resamples: int, rng: np.random.Generator) -> Fitted:
    return _fit([x], lambda xs: xs[0].mean(axis=1), resamples, rng)


def _scv_fit(x: FloatArray, resamples: int, rng: np.random.Generator) -> Fitted:
    return _fit([x], _scv, resamples, rng)


def _difference_fit(base: FloatArray, other: FloatArray, resamples: int, rng: np.random.Generator) -> Fitted:
    return _fit([base, other], lambda xs: xs[1].mean(axis=1) - xs[0].mean(axis=1), resamples, rng)


def _scv(xs: list[FloatArray]) -> FloatArray:
    x = xs[0]
    mean = x.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mean > 0, x.var(axis=1, ddof=1) / (mean * mean), np.nan)


def _fit(
    samples: list[FloatArray],
    statistic: Callable[[list[FloatArray]], FloatArray],
    resamples: int,
    rng: np.random.Generator,
) -> Fitted:
    """Point estimate of ``statistic`` and its percentile-bootstrap interval (each sample resampled alone)."""
    point = float(statistic([s[np.newaxis, :] for s in samples])[0])
    n = int(sum(s.size for s in samples))
    if min(s.size for s in samples) < MIN_SAMPLES or not math.isfinite(point):
        return Fitted(value=point, n=n, method=f"none: fewer than {MIN_SAMPLES} observations")
    chunk = max(1, _BOOTSTRAP_CELLS // n)
    values: list[FloatArray] = []
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        drawn = [s[rng.integers(0, s.size, size=(size, s.size))] for s in samples]
        values.append(statistic(drawn))
        done += size
    boot = np.concatenate(values)
    boot = boot[np.isfinite(boot)]
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    return Fitted(value=point, ci_low=float(low), ci_high=float(high), n=n, method=_METHOD.format(resamples=resamples))
