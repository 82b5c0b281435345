"""Calibrate model profiles from request logs: ``calibrate(paths) -> ProfilesDocument``.

* :mod:`~optplace.calibration.logs` reads the log formats into one columnar shape;
* :mod:`~optplace.calibration.estimate` fits service time, SCV, switch overhead (per model and per
  ordered pair), fixed overhead and memory, with bootstrap confidence intervals;
* :mod:`~optplace.calibration.diagnostics` sets measured against predicted latency per load point;
* :mod:`~optplace.calibration.coral` derives switch overheads from Google's Coral reference runs.

The result is a :class:`optplace.profiles.ProfilesDocument`, the format ``--profiles`` merges into
instances. Formats, estimators and decisions: ``docs/calibration.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from optplace.calibration.diagnostics import (
    LoadPointResidual,
    mape,
    plot_residuals,
    predict_latency,
    predict_mean_latency,
    residuals,
)
from optplace.calibration.estimate import (
    BOOTSTRAP_RESAMPLES,
    CONFIDENCE,
    MIN_PAIR_SWITCHES,
    Fitted,
    ModelFit,
    PairSwitch,
    fit_models,
)
from optplace.calibration.logs import DEFAULT_ACCELERATOR_TYPE, LogFormatError, RequestLog, read_log, read_logs
from optplace.profiles import ProfilesDocument


def calibrate(
    logs: Iterable[str | Path | RequestLog],
    *,
    accelerator_type: str = DEFAULT_ACCELERATOR_TYPE,
    disciplines: Mapping[str, str] | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    diagnose: bool = True,
) -> ProfilesDocument:
    """Fit a profile per (model, accelerator type) from request logs, with intervals and residuals.

    ``logs`` are file paths (format read from the header) or :class:`RequestLog` objects.
    ``accelerator_type`` names the type of requests whose log does not (the ibis formats);
    ``disciplines`` maps a type to ``fcfs`` (default: switch overhead fitted), ``dedicated`` or
    ``ps``. The bootstrap uses ``resamples`` resamples from ``seed``. With ``diagnose`` the
    report holds every load point's measured and predicted mean latency (in-sample).
    """
    from optplace import __version__

    read: list[RequestLog] = []
    sources: list[dict] = []
    for item in logs:
        if isinstance(item, RequestLog):
            log = item
            sources.append({"name": log.source, "format": log.format, "requests": len(log)})
        else:
            path = Path(item)
            log = read_log(path, accelerator_type=accelerator_type)
            sources.append(
                {
                    "name": path.name,
                    "format": log.format,
                    "requests": len(log),
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                }
            )
        read.append(log)
    types = sorted({t for log in read for t in log.accelerator_type.tolist()})
    chosen = {t: (disciplines or {}).get(t, "fcfs") for t in types}
    unknown = sorted(set(disciplines or {}) - set(types))
    if unknown:
        raise ValueError(f"disciplines given for accelerator types not in the logs: {unknown} (the logs have {types})")
    fits = fit_models(read, disciplines=chosen, resamples=resamples, seed=seed)
    profiles: dict[str, dict[str, dict[str, float]]] = {}
    for fit in fits:
        if fit.service_time_ms is not None:
            profiles.setdefault(fit.model, {})[fit.accelerator_type] = fit.profile()
    if not profiles:
        raise ValueError("no service time could be fitted: the logs have no request with a known service time")
    report: dict = {
        "settings": {
            "confidence": CONFIDENCE,
            "bootstrap_resamples": resamples,
            "seed": seed,
            "min_pair_switches": MIN_PAIR_SWITCHES,
            "fixed_overhead": "folded into service_time_ms of the profiles (conservative); fitted value in fits",
        },
        "fits": [f.model_dump(mode="json") for f in fits],
    }
    if diagnose:
        points = residuals(read, profiles, chosen)
        report["residuals"] = [p.to_json() for p in points]
        report["mape_percent_in_sample"] = mape(points)
    return ProfilesDocument.model_validate(
        {
            "profiles": profiles,
            "disciplines": chosen,
            "calibration": report,
            "provenance": {"created_by": "optplace calibrate", "optplace_version": __version__, "logs": sources},
        }
    )


__all__ = [
    "DEFAULT_ACCELERATOR_TYPE",
    "Fitted",
    "LoadPointResidual",
    "LogFormatError",
    "ModelFit",
    "PairSwitch",
    "RequestLog",
    "calibrate",
    "fit_models",
    "mape",
    "plot_residuals",
    "predict_latency",
    "predict_mean_latency",
    "read_log",
    "read_logs",
    "residuals",
]
