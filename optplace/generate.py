"""Instance generators: realistic heterogeneous edge clusters with profiles from :mod:`optplace.zoo`.

``generate_instance(family, n_apps, n_accelerators, seed, **knobs)`` builds one validated
:class:`~optplace.domain.Instance`. A *family* is a named set of knob defaults (see
:data:`FAMILIES`); any knob can be overridden. The same (family, n_apps, n_accelerators, seed,
knobs) always gives the same instance, and every instance records them in ``provenance`` together
with the origin of every profile it uses (measured or ASSUMED, see :mod:`optplace.zoo`).

What is drawn at random (numpy PCG64 from ``seed``): each application's model (uniform, or Zipf
popularity over a seed-shuffled model order), its Poisson rate (uniform on a grid, the seed's
5-10 req/s by default), an optional SLO jitter, and which applications get a percentile SLO. The
cluster is deterministic given the counts: ``n_accelerators`` split over host kinds by the
family's shares (largest remainder). The applications are drawn from their own random stream, so
changing only ``n_accelerators`` keeps the same applications (a load sweep).

Scale families cover 10 to 10,000 applications; tightness families scale the SLO classes;
switch-pressure families put many distinct models on edgeTPU-only clusters with switch overheads
scaled by ratios measured on other Coral hosts. The hard-case families (issue 10) are where the
analytic latency models were found optimistic in simulation: edgeTPUs dominated by one model
under tail SLOs (``edgetpu-zipf-tail``, ``fcfs-dominant``) or tight mean SLOs
(``fcfs-dominant-mean``), processor sharing with variable service (``ps-scv``) and at very low
load (``ps-low-load``); ``benchmarks/slo_guard.py`` hunts violations on them.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optplace import zoo
from optplace.domain import Instance
from optplace.profiles import ProfilesDocument, apply_profiles

GENERATOR_VERSION = "1"


@dataclass(frozen=True)
class Family:
    """A named set of generator knobs."""

    name: str
    description: str
    knobs: dict[str, Any] = field(default_factory=dict)


# Every knob, its default, and what it means. Families override some of them.
DEFAULT_KNOBS: dict[str, Any] = {
    "n_apps": 60,  # applications
    "hosts": {"nano": 0.5, "edgetpu": 0.5},  # share of accelerators per host kind (zoo.HOSTS keys)
    "apps_per_accelerator": 7.5,  # sets n_accelerators when it is not given
    "models": None,  # zoo model names to draw from; None = every zoo model runnable on the cluster
    "popularity": "uniform",  # "uniform" or "zipf" (exponent zipf_exponent, fitted to Alibaba's trace)
    "zipf_exponent": zoo.ZIPF_EXPONENT.value,
    "rate_min_rps": zoo.RATE_RANGE_RPS[0],
    "rate_max_rps": zoo.RATE_RANGE_RPS[1],
    "rate_step_rps": 0.5,  # rates lie on a grid, as in the seed's workloads
    "slo_scale": 1.0,  # multiplies the 200/400/600 ms SLO classes (< 1 is tighter)
    "slo_jitter": 0.0,  # each SLO is scaled by uniform(1 - j, 1 + j), then clipped to 60-1000 ms
    "percentile_share": 0.0,  # fraction of applications whose SLO is a percentile instead of the mean
    "percentiles": ["p95", "p99"],  # drawn uniformly for those applications (same latency budget)
    "switch_scale": 1.0,  # multiplies every edgeTPU switch overhead (8 = USB 2.0 host, 0.26 = co-compiled)
    "preprocess_ms": zoo.PREPROCESS_MS.value,  # per-request CPU pre-processing on the node (0 = none)
    "network_delay_ms": zoo.NETWORK_DELAY_MS.value,
    "frontend_memory_mb": zoo.FRONTEND_MEMORY_MB.value,
    "objectives": ["max_hosted", "min_accelerators"],
    "ps_model": "exact",
    # Knobs for the hard cases of the latency models (issue 10). At their defaults they change
    # nothing and are left out of ``provenance.parameters``, so files written before they existed
    # still regenerate byte for byte.
    "dominant_share": 0.9,  # popularity "dominant": share of applications using the dominant model
    "n_models": None,  # draw this many distinct models (seeded) from those allowed; None = all
    "service_scv": None,  # service-time SCV per profile: a number, or [lo, hi] drawn per profile
    "slo_service_multiple": None,  # [lo, hi]: SLO = m x the model's fastest service time (+ front end, network)
}
_NEUTRAL_KNOBS = {"dominant_share": 0.9, "n_models": None, "service_scv": None, "slo_service_multiple": None}

# The hard cases of issue 10: the regimes where the v1 latency models were found optimistic in
# simulation. Every one has no front end and no network delay, so the accelerator's queue is the
# whole response time and nothing hides a model error.
_BARE = {"preprocess_ms": 0.0, "network_delay_ms": 0.0}
_TPU_ONLY = {"hosts": {"edgetpu": 1.0}}
_NANO_ONLY = {"hosts": {"nano": 1.0}}

_HETERO = {"hosts": {"nano": 0.5, "edgetpu": 0.5}}

# fcfs-dominant draws from the fast edgeTPU models (4.6-15.9 ms): a slow dominant model (18-125 ms
# under a tail SLO of 80-240 ms) leaves room for two or three applications per device and no mix.
_FAST_TPU_MODELS = ("mobilenet_v1", "mobilenet_v2", "googlenet", "efficientnet-S", "efficientnet-M")

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            "hetero",
            "Seed-like heterogeneous edge cluster: Jetson Nanos and Raspberry Pi + Coral edgeTPU hosts in equal "
            "numbers, small/medium/large models with 200/400/600 ms mean SLOs, Poisson 5-10 req/s, 20 ms "
            "pre-processing and 10 ms network; about 7.5 applications per accelerator",
            dict(_HETERO),
        ),
        *[
            Family(
                f"scale-{n}",
                f"The hetero family with {n:,} applications (scale series)",
                {**_HETERO, "n_apps": n},
            )
            for n in (10, 100, 1000, 10000)
        ],
        Family("loose", "hetero with SLO classes doubled (400/800/1200 ms, clipped to 1 s)", {"slo_scale": 2.0}),
        Family("tight", "hetero with SLO classes halved (100/200/300 ms)", {"slo_scale": 0.5}),
        Family(
            "very-tight",
            "hetero with SLO classes at 30% (60/120/180 ms) and +-20% jitter",
            {"slo_scale": 0.3, "slo_jitter": 0.2},
        ),
        Family(
            "edgetpu",
            "edgeTPU-only cluster (Pi 4 hosts), every edgeTPU model equally popular: switch overhead as measured",
            {"hosts": {"edgetpu": 1.0}, "apps_per_accelerator": 6.0},
        ),
        Family(
            "switch-heavy",
            "edgeTPU-only cluster with switch overheads x8 (the per-switch cost measured on USB 2.0 Raspberry Pi 3 "
            "hosts relative to Pi 4)",
            {"hosts": {"edgetpu": 1.0}, "apps_per_accelerator": 6.0, "switch_scale": zoo.SWITCH_SCALE_USB2},
        ),
        Family(
            "switch-light",
            "edgeTPU-only cluster with co-compiled models: switch overheads x0.26 (measured co-compiled ratio)",
            {"hosts": {"edgetpu": 1.0}, "apps_per_accelerator": 6.0, "switch_scale": zoo.SWITCH_SCALE_COCOMPILED},
        ),
        Family(
            "skewed",
            "hetero with Zipf model popularity (exponent 1.10 fitted to Alibaba's GenAI serving trace): many "
            "applications share a few models",
            {"popularity": "zipf"},
        ),
        Family(
            "percentile",
            "hetero where every application states a p95 or p99 SLO (same latency budget as its class)",
            {"percentile_share": 1.0, "apps_per_accelerator": 5.0},
        ),
        Family(
            "edge-mixed",
            "Jetson Nano, Pi + edgeTPU, x86 CPU-only nodes and a few Jetson AGX Xaviers",
            {"hosts": {"nano": 0.35, "edgetpu": 0.35, "cpu": 0.2, "xavier": 0.1}, "apps_per_accelerator": 7.0},
        ),
        Family(
            "edgetpu-zipf-tail",
            "edgeTPU-only cluster, Zipf popularity with exponent 2.0, every SLO a p95/p99 at 40% of its class, no "
            "front end or network delay (the recipe with which issue 10 found FCFS tail violations)",
            {**_TPU_ONLY, **_BARE, "apps_per_accelerator": 6.0, "popularity": "zipf", "zipf_exponent": 2.0}
            | {"percentile_share": 1.0, "slo_scale": 0.4},
        ),
        Family(
            "fcfs-dominant",
            "edgeTPU-only cluster with three models, one used by 90% of the applications (so each edgeTPU mixes "
            "a dominant model with one or two rare ones), every SLO a p95/p99 at 40% of its class, no front end "
            "or network delay",
            {**_TPU_ONLY, **_BARE, "apps_per_accelerator": 24.0, "popularity": "dominant", "n_models": 3}
            | {"models": list(_FAST_TPU_MODELS), "percentile_share": 1.0, "slo_scale": 0.4},
        ),
        Family(
            "fcfs-dominant-mean",
            "fcfs-dominant with tight mean SLOs (25% of the class) instead of percentiles: FCFS means on skewed "
            "switch mixes",
            {**_TPU_ONLY, **_BARE, "apps_per_accelerator": 24.0, "popularity": "dominant", "n_models": 3}
            | {"models": list(_FAST_TPU_MODELS), "slo_scale": 0.25},
        ),
        Family(
            "ps-scv",
            "Jetson-Nano-only cluster (processor sharing) whose service times vary (SCV drawn in 0.5-2 per model), "
            "every SLO a p95/p99 at 40% of its class, no front end or network delay",
            {**_NANO_ONLY, **_BARE, "apps_per_accelerator": 6.0, "service_scv": [0.5, 2.0]}
            | {"percentile_share": 1.0, "slo_scale": 0.4},
        ),
        Family(
            "ps-low-load",
            "Jetson-Nano-only cluster at very low load (0.5-2 req/s per application, so accelerators run at "
            "utilisation up to about 0.08) with p95/p99 SLOs only 10-50% above the service time, no front end or "
            "network",
            {**_NANO_ONLY, **_BARE, "apps_per_accelerator": 3.0, "rate_min_rps": 0.5, "rate_max_rps": 2.0}
            | {"rate_step_rps": 0.1, "percentile_share": 1.0, "slo_service_multiple": [1.1, 1.5]},
        ),
        Family(
            "datacenter",
            "Edge devices plus a rack of datacenter GPUs with 16 GB device memory (4 per host); minimise cost",
            {
                "hosts": {"nano": 0.4, "edgetpu": 0.4, "dcgpu": 0.2},
                "apps_per_accelerator": 10.0,
                "objectives": ["max_hosted", "min_cost"],
            },
        ),
    ]
}


def list_families() -> list[Family]:
    return list(FAMILIES.values())


def resolve_knobs(family: str, n_apps: int | None, n_accelerators: int | None, knobs: dict[str, Any]) -> dict:
    """The family's knobs with the caller's overrides; raises ValueError naming what is wrong."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known families: {', '.join(FAMILIES)}")
    unknown = sorted(set(knobs) - set(DEFAULT_KNOBS))
    if unknown:
        raise ValueError(f"unknown generator knob(s) {unknown}; known knobs: {', '.join(sorted(DEFAULT_KNOBS))}")
    resolved = {**DEFAULT_KNOBS, **FAMILIES[family].knobs, **knobs}
    if n_apps is not None:
        resolved["n_apps"] = n_apps
    if int(resolved["n_apps"]) < 1:
        raise ValueError("n_apps must be at least 1")
    hosts = resolved["hosts"]
    bad = sorted(set(hosts) - set(zoo.HOSTS))
    if bad or not hosts or any(float(v) < 0 for v in hosts.values()) or sum(hosts.values()) <= 0:
        raise ValueError(f"hosts must map some of {sorted(zoo.HOSTS)} to non-negative shares, got {hosts}")
    if n_accelerators is None:
        n_accelerators = max(len(hosts), math.ceil(int(resolved["n_apps"]) / float(resolved["apps_per_accelerator"])))
    if n_accelerators < 1:
        raise ValueError("n_accelerators must be at least 1")
    resolved["n_accelerators"] = int(n_accelerators)
    if resolved["popularity"] not in ("uniform", "zipf", "dominant"):
        raise ValueError("popularity must be 'uniform', 'zipf' or 'dominant'")
    if not 0 < float(resolved["dominant_share"]) <= 1:
        raise ValueError("dominant_share must be in (0, 1]")
    if resolved["n_models"] is not None and int(resolved["n_models"]) < 1:
        raise ValueError("n_models must be at least 1 (or null for every model)")
    resolved["service_scv"] = _range(resolved["service_scv"], "service_scv", low=0.0)
    resolved["slo_service_multiple"] = _range(resolved["slo_service_multiple"], "slo_service_multiple", low=1.0)
    if not resolved["rate_min_rps"] > 0 or resolved["rate_max_rps"] < resolved["rate_min_rps"]:
        raise ValueError("need 0 < rate_min_rps <= rate_max_rps")
    if not 0 <= resolved["percentile_share"] <= 1 or not 0 <= resolved["slo_jitter"] < 1:
        raise ValueError("percentile_share must be in [0, 1] and slo_jitter in [0, 1)")
    return resolved


def _recorded(knob: str, resolved: dict[str, Any]) -> bool:
    """Whether ``provenance.parameters`` records ``knob``: every knob, except the hard-case knobs
    when they are at their neutral default (and dominant_share when popularity is not dominant)."""
    if knob == "dominant_share":
        return resolved["popularity"] == "dominant"
    return knob not in _NEUTRAL_KNOBS or resolved[knob] != _NEUTRAL_KNOBS[knob]


def _range(value: Any, name: str, low: float) -> list[float] | None:
    """``None``, a number or ``[lo, hi]`` as ``[lo, hi]`` (or None), each at least ``low``."""
    if value is None:
        return None
    bounds = [value, value] if isinstance(value, int | float) else value
    if (
        not isinstance(bounds, list | tuple)
        or len(bounds) != 2
        or not all(isinstance(b, int | float) and math.isfinite(b) for b in bounds)
        or not low <= bounds[0] <= bounds[1]
    ):
        raise ValueError(f"{name} must be a number or [lo, hi] with {low:g} <= lo <= hi, got {value!r}")
    return [float(bounds[0]), float(bounds[1])]


def split_counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Split ``total`` by ``shares`` (largest remainder); every kind with a share gets one if it can."""
    keys = [k for k, v in shares.items() if v > 0]
    weight = sum(shares[k] for k in keys)
    exact = {k: total * shares[k] / weight for k in keys}
    counts = {k: math.floor(v) for k, v in exact.items()}
    for k in sorted(keys, key=lambda k: (-(exact[k] - counts[k]), keys.index(k)))[: total - sum(counts.values())]:
        counts[k] += 1
    if total >= len(keys):  # no host kind of the family disappears at small sizes
        for k in keys:
            while counts[k] == 0:
                donor = max(keys, key=lambda d: counts[d])
                counts[donor] -= 1
                counts[k] += 1
    return counts


def generate_instance(
    family: str = "hetero",
    n_apps: int | None = None,
    n_accelerators: int | None = None,
    seed: int = 0,
    profiles: ProfilesDocument | None = None,
    **knobs: Any,
) -> Instance:
    """Build one instance of ``family``; ``n_apps=None`` uses the family's size (60 for hetero).

    ``n_accelerators=None`` derives the cluster size from ``apps_per_accelerator``. Any knob of
    :data:`DEFAULT_KNOBS` may be overridden by keyword. ``profiles`` (a calibrated profiles
    document) is merged over the zoo's profiles (:func:`optplace.profiles.apply_profiles`).
    """
    p = resolve_knobs(family, n_apps, n_accelerators, knobs)
    n = int(p["n_apps"])
    cluster_rng, model_rng, app_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    del cluster_rng  # reserved: the cluster is deterministic today; keeps the app streams stable if it changes

    counts = split_counts(p["n_accelerators"], p["hosts"])
    host_keys = [k for k in zoo.HOSTS if counts.get(k, 0) > 0]
    accelerator_types, nodes = _cluster(host_keys, counts)

    # Models: those runnable on some host kind present, optionally a named subset.
    wanted = p["models"] if p["models"] is not None else list(zoo.MODELS)
    unknown = sorted(set(wanted) - set(zoo.MODELS))
    if unknown:
        raise ValueError(f"unknown zoo model(s) {unknown}; known: {', '.join(zoo.MODELS)}")
    runnable = [zoo.MODELS[m] for m in wanted if set(zoo.MODELS[m].profiles) & set(host_keys)]
    if not runnable:
        raise ValueError(f"none of the models {wanted} has a profile on the host kinds {host_keys}")
    if p["n_models"] is not None and int(p["n_models"]) < len(runnable):
        keep = np.sort(model_rng.choice(len(runnable), size=int(p["n_models"]), replace=False))
        runnable = [runnable[int(i)] for i in keep]
    models, profile_provenance, assumed_fields = _models(runnable, host_keys, float(p["switch_scale"]))
    if p["service_scv"] is not None:
        low, high = p["service_scv"]
        for model_document in models:
            for type_name, profile in model_document["profiles"].items():
                where = f"{model_document['name']}@{type_name}"
                profile["service_time_scv"] = round(float(model_rng.uniform(low, high)), 2)
                profile_provenance[where]["service_time_scv"] = (
                    f"{profile['service_time_scv']:g} (ASSUMED: drawn uniformly in [{low:g}, {high:g}] by the generator)"
                )
                assumed_fields.append(f"{where}.service_time_scv")

    # Applications.
    if p["popularity"] == "dominant":
        # Exactly round(share x n) applications use one seed-chosen model; the rest are spread
        # uniformly over the others, then the order is shuffled.
        dominant = int(model_rng.integers(len(runnable)))
        others = [i for i in range(len(runnable)) if i != dominant]
        n_dominant = n if not others else round(float(p["dominant_share"]) * n)
        rest = app_rng.choice(others, size=n - n_dominant) if others else np.empty(0, dtype=np.intp)
        chosen = app_rng.permutation(np.concatenate([np.full(n_dominant, dominant), rest]).astype(np.intp))
    else:
        if p["popularity"] == "zipf":
            order = model_rng.permutation(len(runnable))
            weights = np.empty(len(runnable))
            weights[order] = 1.0 / np.arange(1, len(runnable) + 1) ** float(p["zipf_exponent"])
        else:
            weights = np.ones(len(runnable))
        chosen = app_rng.choice(len(runnable), size=n, p=weights / weights.sum())
    steps = round((p["rate_max_rps"] - p["rate_min_rps"]) / p["rate_step_rps"]) if p["rate_step_rps"] else 0
    if steps > 0:
        rates = p["rate_min_rps"] + p["rate_step_rps"] * app_rng.integers(0, steps + 1, size=n)
    else:
        rates = app_rng.uniform(p["rate_min_rps"], p["rate_max_rps"], size=n)
    jitter = app_rng.uniform(1 - p["slo_jitter"], 1 + p["slo_jitter"], size=n)
    is_percentile = app_rng.random(size=n) < p["percentile_share"]
    which_percentile = app_rng.integers(0, len(p["percentiles"]), size=n)
    if p["slo_service_multiple"] is not None:
        low_multiple, high_multiple = p["slo_service_multiple"]
        multiple = app_rng.uniform(low_multiple, high_multiple, size=n)
        fastest = {d["name"]: min(prof["service_time_ms"] for prof in d["profiles"].values()) for d in models}
    width = max(3, len(str(n)))
    applications = []
    for i in range(n):
        model = runnable[int(chosen[i])]
        if p["slo_service_multiple"] is not None:
            # Relative to the model's own service time, so not clipped to the 60 ms - 1 s class range.
            slo = round(
                float(multiple[i]) * fastest[model.name] + float(p["preprocess_ms"]) + float(p["network_delay_ms"]), 1
            )
        else:
            slo = zoo.SLO_CLASS_MS[model.size].value * float(p["slo_scale"]) * float(jitter[i])
            slo = float(np.clip(round(slo, 1), *zoo.SLO_RANGE_MS))
        app: dict[str, Any] = {
            "name": f"app{i + 1:0{width}d}-{model.name}",
            "model": model.name,
            "rate_rps": round(float(rates[i]), 3),
            "slo": {"latency_ms": slo},
            "frontend_memory_mb": float(p["frontend_memory_mb"]),
        }
        if is_percentile[i]:
            app["slo"]["statistic"] = p["percentiles"][int(which_percentile[i])]
        if p["preprocess_ms"] > 0:
            app["preprocess_ms"] = float(p["preprocess_ms"])
        applications.append(app)

    parameters = {k: p[k] for k in sorted(p) if _recorded(k, p)}
    document = {
        "name": f"{family}-n{n}-a{p['n_accelerators']}-s{seed}",
        "description": f"{FAMILIES[family].description}. Generated: {n} applications, "
        + ", ".join(f"{counts[k]} {zoo.HOSTS[k].type_name}" for k in host_keys)
        + ".",
        "settings": {"network_delay_ms": float(p["network_delay_ms"]), "ps_model": p["ps_model"]},
        "accelerator_types": accelerator_types,
        "nodes": nodes,
        "models": models,
        "applications": applications,
        "objectives": list(p["objectives"]),
        "provenance": {
            "generator": "optplace.generate",
            "generator_version": GENERATOR_VERSION,
            "family": family,
            "seed": seed,
            "parameters": parameters,
            "accelerators": {zoo.HOSTS[k].type_name: counts[k] for k in host_keys},
            "sources": {k: zoo.SOURCES[k] for k in _used_sources(runnable, host_keys)},
            "profiles": profile_provenance,
            "assumed": assumed_fields + _cluster_assumptions(host_keys),
            "workload": (
                "Poisson rates on a grid in [rate_min_rps, rate_max_rps]; SLO class by model size "
                "(200/400/600 ms x slo_scale, the seed's heterogeneous experiment); pre-processing "
                f"{p['preprocess_ms']:g} ms per request (Pi figure; the Nano's is 24 ms) and "
                f"{p['network_delay_ms']:g} ms network (the seed's)"
            ),
        },
    }
    instance = Instance.model_validate(document)
    if profiles is not None:
        instance = apply_profiles(instance, profiles, source=profiles.provenance.get("source"))
    return instance.model_copy(
        update={"provenance": {**instance.provenance, "offered_load": round(offered_load(instance), 4)}}
    )


def _cluster(host_keys: list[str], counts: dict[str, int]) -> tuple[list[dict], list[dict]]:
    accelerator_types, nodes = [], []
    for key in host_keys:
        host = zoo.HOSTS[key]
        acc_type: dict[str, Any] = {
            "name": host.type_name,
            "discipline": host.discipline,
            "cost": host.cost.value,
            "description": host.description,
        }
        if host.device_memory_mb is not None:
            acc_type["memory_mb"] = host.device_memory_mb.value
        accelerator_types.append(acc_type)
        remaining = counts[key]
        index = 0
        while remaining > 0:
            index += 1
            here = min(host.accelerators_per_node, remaining)
            remaining -= here
            node_name = f"{host.node_prefix}{index}"
            suffix = {"edgetpu": "tpu", "cpu": "cpu"}.get(key, "gpu")
            accelerators = [
                {
                    "name": f"{node_name}-{suffix}" + (str(j) if host.accelerators_per_node > 1 else ""),
                    "type": host.type_name,
                }
                for j in range(here)
            ]
            nodes.append(
                {
                    "name": node_name,
                    "memory_mb": host.node_memory_mb.value,
                    "preprocess_cores": host.preprocess_cores,
                    "labels": dict(host.labels),
                    "accelerators": accelerators,
                }
            )
    return accelerator_types, nodes


def _models(
    runnable: list[zoo.ZooModel], host_keys: list[str], switch_scale: float
) -> tuple[list[dict], dict[str, dict[str, str]], list[str]]:
    models, provenance, assumed = [], {}, []
    for model in runnable:
        profiles = {}
        for key in host_keys:
            zp = model.profiles.get(key)
            if zp is None:
                continue
            type_name = zoo.HOSTS[key].type_name
            profile: dict[str, Any] = {"service_time_ms": zp.service_time_ms.value, "memory_mb": zp.memory_mb.value}
            if zp.switch_overhead_ms is not None:
                profile["switch_overhead_ms"] = round(zp.switch_overhead_ms.value * switch_scale, 3)
            profiles[type_name] = profile
            where = f"{model.name}@{type_name}"
            provenance[where] = zp.provenance()
            if zp.switch_overhead_ms is not None and switch_scale != 1.0:
                provenance[where]["switch_overhead_ms"] += f" x switch_scale {switch_scale:g}"
            assumed += [f"{where}.{name}" for name in zp.assumed_fields()]
        models.append({"name": model.name, "profiles": profiles})
    return models, provenance, assumed


def _used_sources(runnable: list[zoo.ZooModel], host_keys: list[str]) -> list[str]:
    used = {"ibis"}
    for model in runnable:
        for key in host_keys:
            zp = model.profiles.get(key)
            if zp is not None:
                for fig in (zp.service_time_ms, zp.memory_mb, zp.switch_overhead_ms):
                    if fig is not None:
                        used.add(fig.source)
    for key in host_keys:
        used.add(zoo.HOSTS[key].node_memory_mb.source)
    return [k for k in zoo.SOURCES if k in used]


def _cluster_assumptions(host_keys: list[str]) -> list[str]:
    out = []
    for key in host_keys:
        host = zoo.HOSTS[key]
        for name, fig in (("node_memory_mb", host.node_memory_mb), ("cost", host.cost)):
            if fig.assumed:
                out.append(f"{host.type_name}.{name}: {fig.describe()}")
        if key == "cpu":
            out.append(f"{host.type_name}.discipline: ps (model processes time-share the CPU) is assumed")
    return out


def offered_load(instance: Instance) -> float:
    """Demand over capacity: sum of rate x fastest service time, over the sum of utilisation caps.

    A lower bound on the busy fraction the cluster would need to host every application (it
    ignores switch overhead, memory and latency), used to place instances on a load axis.
    """
    models = instance.model_map()
    type_names = {acc.type for _, acc in instance.accelerators()}
    demand = 0.0
    for app in instance.applications:
        times = [p.service_time_ms for t, p in models[app.model].profiles.items() if t in type_names]
        if times:
            demand += app.rate_rps * min(times) / 1000.0
    capacity = sum(instance.utilization_cap(acc.type) for _, acc in instance.accelerators())
    return demand / capacity if capacity > 0 else math.inf


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_set(
    out: str | Path,
    family: str = "hetero",
    count: int = 1,
    seed: int = 0,
    n_apps: int | None = None,
    n_accelerators: int | None = None,
    command: str | None = None,
    profiles: ProfilesDocument | None = None,
    **knobs: Any,
) -> list[Path]:
    """Write ``count`` instances (seeds ``seed``..``seed+count-1``) and update ``out/manifest.json``.

    The manifest lists every file with its family, seed, parameters, size and SHA-256, and the
    command that made it; entries for other files already in the manifest are kept.
    """
    from optplace.io import dump_instance

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest: dict[str, Any] = {"generator": "optplace.generate", "files": []}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    entries = {e["path"]: e for e in manifest.get("files", [])}
    command = command or "python -c 'optplace.generate.write_set(...)' " + shlex.join(sys.argv[1:])
    written = []
    for i in range(count):
        instance = generate_instance(family, n_apps, n_accelerators, seed + i, profiles=profiles, **knobs)
        path = out / f"{instance.name}.json"
        dump_instance(instance, path)
        written.append(path)
        entries[path.name] = {
            "path": path.name,
            "family": family,
            "seed": seed + i,
            "n_applications": len(instance.applications),
            "n_accelerators": len(instance.accelerators()),
            "offered_load": instance.provenance["offered_load"],
            "knobs": {k: v for k, v in knobs.items()},
            "sha256": file_sha256(path),
            "command": command,
        }
        if profiles is not None:
            entries[path.name]["profiles_sha256"] = instance.provenance["calibrated_profiles"]["document_sha256"]
    manifest["generator_version"] = GENERATOR_VERSION
    manifest["files"] = [entries[k] for k in sorted(entries)]
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return written
