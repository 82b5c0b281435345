"""The options of the exact methods ``milp_highs``, ``milp_pyomo`` and ``cpsat`` (``auto`` passes
``stage_options["milp_highs"]`` to its MILP stage, checked by this model through the registry):
one typed model per method, validated before the search starts.

The defaults are the constants the search and the formulation use (:mod:`.worker`,
:class:`.build.BuildOptions`), so there is one place for each. ``solver_options`` is the back-end's
allow-list of tuning parameters (:class:`~optplace.backends.highs.HighsTuning`,
:class:`~optplace.backends.cpsat.CpsatTuning`): numbers, booleans and short enums that cannot name
a file, a log or a program. ``solver_name`` (Pyomo only) is one of a fixed list of installed solvers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_serializer

from optplace.backends.cpsat import CpsatTuning
from optplace.backends.highs import HighsTuning
from optplace.backends.pyomo_backend import SolverName, installed_solvers
from optplace.options import MAX_OPTION_SECONDS, HeuristicNames, MethodOptions, Placement, Seconds, Share

from .build import BuildOptions
from .worker import LNS_ABOVE_PAIRS, LNS_ACCELERATORS, LNS_CANDIDATES, LNS_STALL, LNS_STEP_S

_BUILD = BuildOptions()
_Tangent = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]


class ExactOptions(MethodOptions):
    """Options every exact method takes (see model.md for the formulation knobs)."""

    initial_placement: Placement | None = Field(
        default=None, description="Start from this placement instead of running the heuristics (auto passes its best)."
    )
    warm_start_methods: HeuristicNames | None = Field(
        default=None, description="Heuristics tried for the warm start; default every registered heuristic."
    )
    warm_start_budget_s: Seconds | None = Field(
        default=None, description="Time for the warm-start heuristics together; default 20% of the time limit."
    )
    refine_rounds: int = Field(default=3, ge=0, le=100, description="Re-builds around a better incumbent.")
    relaxed_bound: bool = Field(default=True, description="Solve the relaxed model for a valid bound.")
    conservative_share: Share = Field(default=0.5, description="Share of the time for the first conservative solve.")
    lexicographic: Literal["auto", "weighted", "sequential"] = Field(
        default="auto", description="How several objectives are solved: one weighted solve or one per level."
    )
    lagrangian: bool = Field(default=True, description="Compute the fast Lagrangian bound first (maximisation).")
    lns_above_pairs: int = Field(
        default=LNS_ABOVE_PAIRS,
        ge=0,
        le=10**9,
        description="Eligible pairs beyond which neighbourhood search replaces the full MILP.",
    )
    lns_accelerators: int = Field(
        default=LNS_ACCELERATORS, ge=1, le=10_000, description="Accelerators per neighbourhood."
    )
    lns_step_s: float = Field(
        default=LNS_STEP_S,
        gt=0,
        le=MAX_OPTION_SECONDS,
        allow_inf_nan=False,
        description="Time per neighbourhood solve.",
    )
    lns_candidates: int = Field(
        default=LNS_CANDIDATES, ge=1, le=100_000, description="Unplaced candidates per neighbourhood."
    )
    lns_stall: int = Field(
        default=LNS_STALL, ge=1, le=10**6, description="Neighbourhoods without improvement before stopping."
    )
    max_levels: int = Field(default=_BUILD.max_levels, ge=1, le=1000, description="Tightest-member levels per chain.")
    frontend_segments: int = Field(
        default=_BUILD.frontend_segments, ge=1, le=64, description="Front-end load segments per node."
    )
    utilization_segments: int = Field(
        default=_BUILD.utilization_segments, ge=1, le=64, description="Utilisation segments."
    )
    switch_share: _Tangent = Field(
        default=_BUILD.switch_share, description="Switch-bound tangent for a class absent from the reference."
    )
    switch_tangents: list[_Tangent] = Field(
        default=list(_BUILD.switch_tangents),
        min_length=1,
        max_length=32,
        description="Tangent shares the solver chooses from.",
    )
    margin: float = Field(
        default=_BUILD.margin,
        ge=0,
        le=0.1,
        allow_inf_nan=False,
        description="Relative safety margin on latency budgets.",
    )
    symmetry: bool = Field(default=_BUILD.symmetry, description="Order identical accelerators: used ones first.")
    symmetry_load: bool = Field(default=_BUILD.symmetry_load, description="And by load.")
    max_cocompilation_groups: int = Field(
        default=_BUILD.max_cocompilation_groups,
        ge=0,
        le=64,
        description="Co-compilation regimes per edgeTPU in the conservative model (the reference's group first).",
    )
    isolate: bool = Field(default=True, description="Run the solver in a child process under optplace's wall clock.")
    grace_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        allow_inf_nan=False,
        description="How long past the limit the child may run before it is killed.",
    )

    def payload_options(self) -> dict[str, Any]:
        """What the search in the child process reads (``Search.options``): every option but the
        warm-start ones, which the parent uses; switch_tangents as the tuple the formulation takes."""
        dumped = self.model_dump(
            mode="json", exclude={"initial_placement", "warm_start_methods", "warm_start_budget_s"}
        )
        dumped["switch_tangents"] = tuple(self.switch_tangents)
        return dumped


class HighsExactOptions(ExactOptions):
    """Options of ``milp_highs``."""

    solver_options: HighsTuning = Field(default_factory=HighsTuning, description="HiGHS tuning (allow-list).")

    @field_serializer("solver_options")
    def _set_only(self, value: HighsTuning) -> dict[str, Any]:
        return value.model_dump(exclude_none=True)


class CpsatExactOptions(ExactOptions):
    """Options of ``cpsat``."""

    solver_options: CpsatTuning = Field(default_factory=CpsatTuning, description="CP-SAT tuning (allow-list).")

    @field_serializer("solver_options")
    def _set_only(self, value: CpsatTuning) -> dict[str, Any]:
        return value.model_dump(exclude_none=True)


def _installed(name: str | None) -> str | None:
    if name is not None and name not in installed_solvers():
        raise ValueError(f"Pyomo solver {name!r} is not installed on this machine")
    return name


class PyomoExactOptions(HighsExactOptions):
    """Options of ``milp_pyomo``."""

    solver_name: Annotated[SolverName | None, AfterValidator(_installed)] = Field(
        default=None,
        description="Pyomo solver, from a fixed list of installed solvers; default appsi_highs, else highs.",
    )
