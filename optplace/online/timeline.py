"""Timelines for the online experiment: who arrives when, at what rate, and when they leave.

A :class:`Timeline` is a cluster (an instance's nodes, types and models) and a list of
:class:`Demand` entries, one per application, on a grid of ``step_s`` steps (10 s, the seed's loop
period): the step it arrives, the step it leaves, and its true request rate at every step. Three
builders, all on the seed's heterogeneous cluster and its application templates (model, SLO, front
end, base rate):

* :func:`seed_timeline` — the seed's own workload, timed synthetically: applications (templates
  in file order, cycling) arrive as a Poisson process, stay an exponential time, and re-draw their
  rate uniformly from the seed's 5–10 req/s at exponential intervals.
* :func:`azure_timeline` — load changes from the Azure LLM inference trace (two services, about an
  hour of real arrival timestamps): every template arrives in the first minutes and stays; its
  rate follows one service's request intensity (a sliding-window count, from its own random
  offset into the trace), relative to the mean and clipped to a factor ``clip`` of its base rate.
* :func:`alibaba_timeline` — arrivals, departures and rate changes from the Alibaba GenAI serving
  trace: every (user group, base model) pair active in a window of the trace is an application,
  alive from its first request minus ``pad_min`` to its last plus ``pad_min``; the window is
  compressed into the experiment's length. Base models, ranked by requests, map onto the seed's
  models; a pair takes the SLO, front end and base rate of a seed template of that model, and its
  rate follows its base model's request intensity like the Azure one.

Only the timing comes from the traces: request sizes and token counts are irrelevant here, and the
Alibaba trace's 87 base models are far more than the seed's nine, so models share profiles.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optplace.domain import Application, Instance
from optplace.simulation.arrivals import load_trace


@dataclass(frozen=True)
class Demand:
    """One application's life: template (its ``rate_rps`` is its declared rate on arrival)."""

    application: Application
    arrive_step: int
    depart_step: int  # exclusive
    rates_rps: np.ndarray = field(repr=False)  # true rate at every step of the timeline


@dataclass(frozen=True)
class Timeline:
    name: str
    cluster: Instance  # nodes, accelerator types, models; its applications are the templates
    demands: list[Demand]
    step_s: float
    steps: int
    source: str  # provenance, printed with the results

    def active(self, step: int) -> list[int]:
        """Indices of the demands alive during ``step``."""
        return [i for i, d in enumerate(self.demands) if d.arrive_step <= step < d.depart_step]


def _steps(minutes: float, step_s: float) -> int:
    if minutes <= 0 or step_s <= 0:
        raise ValueError("minutes and step_s must be positive")
    return max(1, round(minutes * 60 / step_s))


def _demand(template: Application, name: str, arrive: int, depart: int, rates: np.ndarray) -> Demand:
    rates = np.round(np.maximum(rates, 0.01), 3)
    app = template.model_copy(update={"name": name, "rate_rps": float(rates[arrive]), "current_accelerator": None})
    return Demand(app, arrive, depart, rates)


def seed_timeline(
    instance: Instance,
    *,
    minutes: float = 60,
    step_s: float = 10,
    seed: int = 0,
    mean_interarrival_s: float = 12,
    mean_lifetime_s: float = 600,
    mean_rate_period_s: float = 120,
    rate_range_rps: tuple[float, float] = (5.0, 10.0),
) -> Timeline:
    """Seed templates arriving as a Poisson process, exponential lifetimes, rates re-drawn in 5–10 req/s."""
    rng = np.random.default_rng(seed)
    steps = _steps(minutes, step_s)
    templates = instance.applications
    demands: list[Demand] = []
    t = 0.0
    low, high = rate_range_rps
    while True:
        t += rng.exponential(mean_interarrival_s)
        arrive = int(t // step_s)
        if arrive >= steps:
            break
        depart = min(steps, arrive + 1 + int(rng.exponential(mean_lifetime_s) // step_s))
        rates = np.empty(steps)
        k = arrive
        while k < steps:
            span = 1 + int(rng.exponential(mean_rate_period_s) // step_s)
            rates[k : k + span] = rng.uniform(low, high)
            k += span
        template = templates[len(demands) % len(templates)]
        demands.append(_demand(template, f"s{len(demands):04d}-{template.model}", arrive, depart, rates))
    return Timeline(
        "seed",
        instance,
        demands,
        step_s,
        steps,
        f"seed workload ({instance.name}): templates in file order, Poisson arrivals every {mean_interarrival_s:g} s, "
        f"exponential lifetimes of {mean_lifetime_s:g} s, rates re-drawn in {low:g}-{high:g} req/s every "
        f"~{mean_rate_period_s:g} s (synthetic timing, seed {seed})",
    )


def intensity(timestamps_s: np.ndarray, times_s: np.ndarray, window_s: float) -> np.ndarray:
    """Requests in ``[t - window_s, t)`` for every ``t`` in ``times_s`` (timestamps sorted)."""
    return np.searchsorted(timestamps_s, times_s, side="left") - np.searchsorted(
        timestamps_s, times_s - window_s, side="left"
    )


def _relative(counts: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    mean = float(np.mean(counts)) if np.mean(counts) > 0 else 1.0
    return np.clip(counts / mean, clip[0], clip[1])


def azure_timeline(
    instance: Instance,
    traces: Sequence[str | Path],
    *,
    minutes: float = 60,
    step_s: float = 10,
    seed: int = 0,
    arrival_window_s: float = 300,
    smoothing_s: float = 60,
    clip: tuple[float, float] = (0.5, 2.0),
) -> Timeline:
    """Every template arrives within ``arrival_window_s`` and stays; rates follow a trace's intensity."""
    rng = np.random.default_rng(seed)
    steps = _steps(minutes, step_s)
    services = [load_trace(path) for path in traces]
    templates = instance.applications
    demands = []
    for i, template in enumerate(templates):
        stamps = services[i % len(services)]
        span = float(stamps[-1])
        offset = rng.uniform(0, span)
        times = (offset + step_s * (np.arange(steps) + 1)) % span  # trace time at the end of each step
        # Cyclic replay: the window before a point near the start wraps to the end of the trace.
        cyclic = np.concatenate([stamps - span, stamps, stamps + span])
        factor = _relative(intensity(cyclic, times, smoothing_s), clip)
        arrive = int(i * arrival_window_s / max(1, len(templates)) // step_s)
        demands.append(_demand(template, f"z{i:03d}-{template.model}", arrive, steps, template.rate_rps * factor))
    names = ", ".join(Path(p).name for p in traces)
    return Timeline(
        "azure",
        instance,
        demands,
        step_s,
        steps,
        f"Azure LLM inference trace 2023 ({names}; CC BY 4.0): per-application rate = seed base rate x "
        f"{smoothing_s:g}-s request intensity / mean, clipped to {clip[0]:g}-{clip[1]:g}, random offsets "
        f"(seed {seed}); {len(templates)} applications of {instance.name} arrive in the first {arrival_window_s:g} s",
    )


def _alibaba_rows(path: str | Path, start_s: float, end_s: float) -> list[tuple[float, str, str]]:
    rows = []
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            stamp = np.datetime64(row["gmt_create"].strip().replace(" ", "T"), "s").astype(np.int64)
            if start_s <= stamp < end_s:
                rows.append((float(stamp), row["groupId"].strip(), row["checkpoint_model_version_id"].strip()))
    rows.sort()
    return rows


def alibaba_timeline(
    instance: Instance,
    trace: str | Path,
    *,
    start: str = "2024-12-03T00:00:00",
    hours: float = 24,
    minutes: float = 60,
    step_s: float = 10,
    pad_min: float = 10,
    smoothing_min: float = 60,
    clip: tuple[float, float] = (0.5, 2.0),
) -> Timeline:
    """(group, base model) pairs of the Alibaba GenAI trace as applications, ``hours`` compressed into ``minutes``."""
    steps = _steps(minutes, step_s)
    start_s = float(np.datetime64(start, "s").astype(np.int64))
    end_s = start_s + hours * 3600
    rows = _alibaba_rows(trace, start_s, end_s)
    if not rows:
        raise ValueError(f"{trace}: no requests between {start} and {hours:g} hours later")
    speed = hours * 60 / minutes  # trace seconds per experiment second
    by_model: dict[str, list[float]] = defaultdict(list)
    by_pair: dict[tuple[str, str], list[float]] = defaultdict(list)
    for stamp, group, model in rows:
        by_model[model].append(stamp)
        by_pair[(group, model)].append(stamp)
    ranked = sorted(by_model, key=lambda m: (-len(by_model[m]), m))
    templates_by_model: dict[str, list[Application]] = defaultdict(list)
    for template in instance.applications:
        templates_by_model[template.model].append(template)
    seed_models = list(templates_by_model)
    step_times = start_s + (np.arange(steps) + 1) * step_s * speed  # trace time at the end of each step
    factors = {
        model: _relative(intensity(np.array(stamps), step_times, smoothing_min * 60), clip)
        for model, stamps in by_model.items()
    }
    demands = []
    pad = pad_min * 60
    for index, ((group, model), stamps) in enumerate(sorted(by_pair.items(), key=lambda item: (item[1][0], item[0]))):
        arrive = int(max(0.0, stamps[0] - pad - start_s) / speed // step_s)
        depart = min(steps, 1 + int((min(end_s, stamps[-1] + pad) - start_s) / speed // step_s))
        if arrive >= steps or depart <= arrive:
            continue
        choices = templates_by_model[seed_models[ranked.index(model) % len(seed_models)]]
        template = choices[index % len(choices)]
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{group}-{model}")
        demands.append(_demand(template, name, arrive, depart, template.rate_rps * factors[model]))
    return Timeline(
        "alibaba",
        instance,
        demands,
        step_s,
        steps,
        f"Alibaba GenAI serving trace 2026 (lora_request_trace.csv, research use): {hours:g} h from {start} "
        f"compressed into {minutes:g} min; {len(demands)} (group, base model) pairs as applications, alive "
        f"from first request - {pad_min:g} min to last + {pad_min:g} min; {len(ranked)} base models mapped by "
        f"popularity onto {instance.name}'s {len(seed_models)} models; rates = template rate x the base model's "
        f"{smoothing_min:g}-min intensity / mean, clipped to {clip[0]:g}-{clip[1]:g}",
    )
