"""Solver-neutral parameters. ``None`` means "the method's default"."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from optplace.domain import Objective


class SolveParams(BaseModel):
    """Parameters every method understands; method-specific knobs go in ``options``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_limit_s: float | None = Field(default=None, gt=0, description="Wall-clock limit for the solve.")
    seed: int = Field(default=0, ge=0, description="Random seed, for reproducibility.")
    threads: int | None = Field(default=None, ge=1, description="Solver threads; None = solver default.")
    relative_gap: float | None = Field(
        default=None, ge=0, description="Stop when optplace's relative gap is at most this."
    )
    objectives: list[Objective] | None = Field(
        default=None, min_length=1, description="Override the instance's lexicographic objectives."
    )
    warm_start: bool = Field(default=True, description="Exact methods start from the best heuristic.")
    options: dict[str, Any] = Field(default_factory=dict, description="Method-specific options.")

    def time_left(self, started: float, now: float) -> float | None:
        if self.time_limit_s is None:
            return None
        return max(0.0, self.time_limit_s - (now - started))
