"""Diagnostics of a calibration: measured vs predicted mean latency per load point, and a plot.

A *load point* is one steady-state run on one accelerator: the requests of one log that share
its ``accelerator`` and ``load`` label (a ``vary_rho`` level of an ibis log). For each model
there the observed mean response time (95% batch-means interval over its requests in arrival
order, as in ``optplace.validation``) is set beside the mean the **evaluator** predicts from the
fitted profiles and the point's arrival rates: :func:`predict_mean_latency` builds a
one-accelerator instance and calls :func:`optplace.evaluate.evaluate`, so the prediction is
whatever latency model the evaluator uses today. Rates are the logged nominal ones where the
format has them (``input_rate``), otherwise requests / span of the point's arrivals.

These residuals are in-sample when the profiles were fitted on the same logs; the
leave-one-mix-out check is ``benchmarks/calibration_cv.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from optplace.calibration.logs import RequestLog
from optplace.domain import MAX_QUANTITY, Instance
from optplace.evaluate import evaluate
from optplace.simulation.statistics import batch_estimate

OBSERVED_BATCHES = 10


class LoadPointResidual(BaseModel):
    """One model at one load point: observed and predicted mean response time."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="null")

    source: str
    accelerator: str
    accelerator_type: str
    load_point: str
    model: str
    requests: int
    rate_rps: float
    utilization: float | None  # predicted utilisation of the accelerator at this point
    observed_ms: float
    observed_ci_ms: float | None  # 95% half-width
    predicted_ms: float | None  # None: no profile for a model here, or the queue is unstable
    observed_service_ms: float | None  # mean logged service time at this point (switches included)

    @property
    def residual_ms(self) -> float | None:
        return None if self.predicted_ms is None else self.observed_ms - self.predicted_ms

    @property
    def error_percent(self) -> float | None:
        return (
            None if self.predicted_ms is None else 100.0 * abs(self.predicted_ms - self.observed_ms) / self.observed_ms
        )

    def to_json(self) -> dict:
        return {**self.model_dump(mode="json"), "residual_ms": self.residual_ms, "error_percent": self.error_percent}


def predict_latency(
    profiles: Mapping[str, Mapping[str, float]],
    rates_rps: Mapping[str, float],
    *,
    accelerator_type: str,
    discipline: str,
    statistic: str = "mean",
    ps_model: str | None = None,
) -> tuple[dict[str, float | None], float | None]:
    """The evaluator's latency per model when ``rates_rps`` share one accelerator.

    ``profiles`` maps each model to its profile fields on ``accelerator_type``; ``statistic`` is
    ``"mean"`` or a percentile such as ``"p95"`` (an SLO statistic); ``ps_model`` picks the
    processor-sharing variant (``"exact"`` or ``"additive"``; None: the instance default).
    Returns the latency per model (None when the queue is unstable) and the accelerator's
    utilisation.
    """
    instance = Instance.model_validate(
        {
            "name": "calibration-load-point",
            "settings": {} if ps_model is None else {"ps_model": ps_model},
            "accelerator_types": [{"name": accelerator_type, "discipline": discipline}],
            "nodes": [
                {
                    "name": "host",
                    "memory_mb": MAX_QUANTITY,
                    "accelerators": [{"name": "device", "type": accelerator_type}],
                }
            ],
            "models": [{"name": m, "profiles": {accelerator_type: dict(profiles[m])}} for m in rates_rps],
            "applications": [
                {
                    "name": f"app-{m}",
                    "model": m,
                    "rate_rps": rate,
                    "slo": {"latency_ms": MAX_QUANTITY, "statistic": statistic},
                }
                for m, rate in rates_rps.items()
            ],
        }
    )
    evaluation = evaluate(instance, {f"app-{m}": "device" for m in rates_rps})
    latencies = {a.application.removeprefix("app-"): a.latency_ms for a in evaluation.applications}
    return latencies, evaluation.accelerators[0].utilization


def predict_mean_latency(
    profiles: Mapping[str, Mapping[str, float]],
    rates_rps: Mapping[str, float],
    *,
    accelerator_type: str,
    discipline: str,
) -> tuple[dict[str, float | None], float | None]:
    """The evaluator's mean latency per model (:func:`predict_latency` with the instance defaults)."""
    return predict_latency(profiles, rates_rps, accelerator_type=accelerator_type, discipline=discipline)


def residuals(
    logs: Sequence[RequestLog],
    profiles: Mapping[str, Mapping[str, Mapping[str, float]]],
    disciplines: Mapping[str, str],
) -> list[LoadPointResidual]:
    """Observed vs predicted mean latency for every (load point, model) of ``logs``.

    ``profiles`` is model -> accelerator type -> profile fields (a profiles document's
    ``profiles``, as plain dicts); a type missing from ``disciplines`` is taken as ``fcfs``.
    """
    out: list[LoadPointResidual] = []
    for log in logs:
        points: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for row, key in enumerate(
            zip(log.accelerator.tolist(), log.accelerator_type.tolist(), log.load_point.tolist())
        ):
            points[key].append(row)
        for (accelerator, type_name, load_point), rows_list in points.items():
            rows = np.asarray(rows_list, dtype=np.intp)
            models = list(dict.fromkeys(log.model[rows].tolist()))
            rates = {m: _rate(log, rows, m) for m in models}
            known = all(type_name in profiles.get(m, {}) for m in models)
            predicted: dict[str, float | None] = {}
            utilization = None
            if known:
                predicted, utilization = predict_mean_latency(
                    {m: profiles[m][type_name] for m in models},
                    rates,
                    accelerator_type=type_name,
                    discipline=disciplines.get(type_name, "fcfs"),
                )
            for model in models:
                own = rows[log.model[rows] == model]
                own = own[np.argsort(log.arrival_ms[own], kind="stable")]
                latency = log.latency_ms[own]
                estimate = batch_estimate(latency, "mean", batches=OBSERVED_BATCHES)
                service = log.service_ms[own]
                service = service[~np.isnan(service)]
                out.append(
                    LoadPointResidual(
                        source=log.source,
                        accelerator=accelerator,
                        accelerator_type=type_name,
                        load_point=load_point,
                        model=model,
                        requests=int(own.size),
                        rate_rps=rates[model],
                        utilization=utilization,
                        observed_ms=float(latency.mean()),
                        observed_ci_ms=estimate.half_width,
                        predicted_ms=predicted.get(model),
                        observed_service_ms=float(service.mean()) if service.size else None,
                    )
                )
    return out


def _rate(log: RequestLog, rows: np.ndarray, model: str) -> float:
    own = rows[log.model[rows] == model]
    nominal = log.nominal_rate_rps[own]
    if not np.isnan(nominal).any() and np.ptp(nominal) == 0:
        return float(nominal[0])
    arrivals = log.arrival_ms[rows]
    span_s = float(arrivals.max() - arrivals.min()) / 1000.0
    if span_s <= 0:
        raise ValueError(
            f"{log.source}: load point {log.load_point[rows[0]]!r} on {log.accelerator[rows[0]]!r} spans no time; "
            "its arrival rates cannot be estimated (label runs with the load column)"
        )
    return own.size / span_s


def mape(points: Sequence[LoadPointResidual]) -> float | None:
    """Mean absolute percentage error over the points that have a prediction."""
    errors = [p.error_percent for p in points if p.error_percent is not None]
    return float(np.mean(errors)) if errors else None


def plot_residuals(points: Sequence[LoadPointResidual], path: str | Path, title: str = "") -> Path:
    """Predicted vs measured mean latency by load: one panel per log and accelerator, PNG."""
    from optplace.extras import require

    matplotlib = require("matplotlib", "batch", "optplace calibrate --plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: dict[tuple[str, str], list[LoadPointResidual]] = defaultdict(list)
    for p in points:
        panels[(p.source, p.accelerator)].append(p)
    count = max(1, len(panels))
    columns = min(count, 2)
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 4.2 * rows), squeeze=False)
    for axis, ((source, accelerator), group) in zip(axes.flat, panels.items()):
        labels = list(dict.fromkeys(p.load_point for p in group))
        for index, model in enumerate(dict.fromkeys(p.model for p in group)):
            own = sorted((p for p in group if p.model == model), key=lambda p: labels.index(p.load_point))
            x = [p.utilization if p.utilization is not None else labels.index(p.load_point) for p in own]
            color = f"C{index}"
            axis.errorbar(
                x,
                [p.observed_ms for p in own],
                yerr=[p.observed_ci_ms or 0.0 for p in own],
                fmt="o",
                color=color,
                capsize=3,
                label=f"{model} measured",
            )
            with_prediction = [(xi, p.predicted_ms) for xi, p in zip(x, own) if p.predicted_ms is not None]
            if with_prediction:
                axis.plot(*zip(*with_prediction), "s--", color=color, mfc="none", label=f"{model} predicted")
        axis.set_title(f"{source} ({accelerator})" if accelerator != Path(source).stem else source, fontsize=9)
        axis.set_xlabel("predicted utilisation" if group[0].utilization is not None else "load point")
        axis.set_ylabel("mean response time (ms)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[count:]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
