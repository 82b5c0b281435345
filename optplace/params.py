"""Solver-neutral parameters. ``None`` means "the method's default".

Numbers are strict (``true`` or ``"2"`` is not a number) and bounded: a seed must fit the
solvers' 32-bit seeds, threads are at most :data:`MAX_THREADS`, and no time or gap is NaN or
infinite. What each method accepts in ``options`` is its own typed model (:mod:`optplace.options`);
``SolveParams`` only checks that ``options`` is a JSON object.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from optplace.domain import Objective

MAX_SEED = 2**31 - 1  # HiGHS and CP-SAT take a signed 32-bit seed
MAX_THREADS = 256
MAX_TIME_LIMIT_S = 1e7  # about 115 days: a bound that keeps deadline arithmetic finite


class SimulationCheckSettings(BaseModel):
    """How much simulation ``verify="simulate"`` may spend; every field is bounded, so no input can
    ask for unbounded time or memory (about 3 s and 1 GB per 10 million requests at most)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    requests_per_accelerator: int = Field(
        default=20_000,
        ge=1_000,
        le=1_000_000,
        description="Measured requests expected on the used accelerator with the least arrival rate.",
    )
    max_requests: int = Field(
        default=2_000_000,
        ge=10_000,
        le=10_000_000,
        description="Cap on all simulated requests (warm-up included); the horizon shrinks to fit.",
    )
    batches: int = Field(default=20, ge=10, le=100, description="Batches of the batch-means 95% intervals.")
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description="Simulation seed; None = the solve's seed.")


class SolveParams(BaseModel):
    """Parameters every method understands; method-specific knobs go in ``options``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_limit_s: float | None = Field(
        default=None,
        gt=0,
        le=MAX_TIME_LIMIT_S,
        strict=True,
        allow_inf_nan=False,
        description="Wall-clock limit for the solve.",
    )
    seed: int = Field(default=0, ge=0, le=MAX_SEED, strict=True, description="Random seed, for reproducibility.")
    threads: int | None = Field(
        default=None, ge=1, le=MAX_THREADS, strict=True, description="Solver threads; None = solver default."
    )
    relative_gap: float | None = Field(
        default=None,
        ge=0,
        le=1e9,
        strict=True,
        allow_inf_nan=False,
        description="Stop when optplace's relative gap is at most this.",
    )
    objectives: list[Objective] | None = Field(
        default=None,
        min_length=1,
        max_length=len(Objective),
        description="Override the instance's lexicographic objectives.",
    )
    warm_start: bool = Field(default=True, strict=True, description="Exact methods start from the best heuristic.")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Method-specific options: each method's JSON Schema is in GET /v1/methods (optplace methods --json).",
    )
    deterministic: bool = Field(
        default=False,
        strict=True,
        description=(
            "Reproducible run: the time limit becomes a work budget (solver node, iteration and deterministic-time "
            "limits, heuristic move counts), one solver thread, fixed seeds; the same input gives the same placement "
            "on any machine. The wall clock is then only a safety stop at 3x the limit (the result says if it fired)."
        ),
    )
    verify: Literal["none", "simulate"] = Field(
        default="none",
        description="'simulate': also simulate the verified placement and report each SLO with a 95% interval.",
    )
    simulation: SimulationCheckSettings = Field(
        default_factory=SimulationCheckSettings, description="Bounds of the simulation that verify='simulate' runs."
    )

    def time_left(self, started: float, now: float) -> float | None:
        if self.time_limit_s is None:
            return None
        return max(0.0, self.time_limit_s - (now - started))
