"""Simulated request logs with known parameters, for the calibration tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optplace.calibration.logs import simulated_rows, write_plain
from optplace.domain import Instance
from optplace.simulation import AcceleratorRequests, simulate

# Ground truth of the simulated edgeTPU: model -> (service mean, SCV, switch overhead, memory).
TRUTH = {"big": (20.0, 0.1, 15.0, 100.0), "small": (8.0, 0.05, 10.0, 50.0)}
NETWORK_MS = 3.0  # the simulator's constant network delay: a fixed per-request overhead


def edgetpu_instance(rates: dict[str, float] | None = None, *, discipline: str = "fcfs", **settings: Any) -> Instance:
    """One accelerator serving one application per model of TRUTH."""
    rates = rates or {"big": 8.0, "small": 15.0}
    return Instance.model_validate(
        {
            "settings": {"network_delay_ms": NETWORK_MS, **settings},
            "accelerator_types": [{"name": "tpu", "discipline": discipline}],
            "nodes": [{"name": "host", "memory_mb": 4096, "accelerators": [{"name": "dev", "type": "tpu"}]}],
            "models": [
                {
                    "name": m,
                    "profiles": {
                        "tpu": {"service_time_ms": s, "service_time_scv": c, "switch_overhead_ms": o, "memory_mb": mem}
                    },
                }
                for m, (s, c, o, mem) in TRUTH.items()
                if m in rates
            ],
            "applications": [
                {"name": f"app-{m}", "model": m, "rate_rps": r, "slo": {"latency_ms": 10_000}} for m, r in rates.items()
            ],
        }
    )


def simulated_log(tmp: Path, instance: Instance, *, requests: int, seed: int, name: str = "sim.csv") -> Path:
    """Simulate every application on the instance's one accelerator and write the plain log."""
    records: list[AcceleratorRequests] = []
    device = instance.nodes[0].accelerators[0].name
    simulate(
        instance,
        {a.name: device for a in instance.applications},
        requests_per_app=requests,
        seed=seed,
        request_log=records,
    )
    path = tmp / name
    write_plain(path, simulated_rows(records, load=f"seed={seed}"))
    return path
