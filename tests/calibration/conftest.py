"""Simulated request logs with known parameters, for the calibration tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optplace.builder import InstanceBuilder
from optplace.calibration.logs import simulated_rows, write_plain
from optplace.domain import Instance
from optplace.simulation import AcceleratorRequests, simulate

# Ground truth of the simulated edgeTPU: model -> (service mean, SCV, switch overhead, memory).
TRUTH = {"big": (20.0, 0.1, 15.0, 100.0), "small": (8.0, 0.05, 10.0, 50.0)}
NETWORK_MS = 3.0  # the simulator's constant network delay: a fixed per-request overhead


def edgetpu_instance(rates: dict[str, float] | None = None, *, discipline: str = "fcfs", **settings: Any) -> Instance:
    """One accelerator serving one application per model of TRUTH."""
    rates = rates or {"big": 8.0, "small": 15.0}
    b = InstanceBuilder(network_delay_ms=NETWORK_MS, **settings)
    tpu = b.add_accelerator_type("tpu", discipline)
    b.add_accelerator(b.add_node("host", memory_mb=4096), tpu, name="dev")
    for model, (service, scv, switch, memory) in TRUTH.items():
        if model in rates:
            profile = {
                "service_time_ms": service,
                "service_time_scv": scv,
                "switch_overhead_ms": switch,
                "memory_mb": memory,
            }
            b.add_model(model, profiles={tpu: profile})
    for model, rate in rates.items():
        b.add_application(f"app-{model}", model, rate_rps=rate, slo_ms=10_000)
    return b.instance()


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
