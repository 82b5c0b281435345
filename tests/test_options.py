"""Method options at the library level: typed, checked before a method runs, and unable to write
files or start programs (issue 9 rows 1, 2 and 7; the HTTP side is tests/api/test_security.py)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from optplace import SolveParams, solve
from optplace.registry import list_methods
from tests.conftest import INSTANCES, load

TINY = load(INSTANCES / "tiny" / "ps_one_per_gpu.json")


def _params(**options: object) -> dict:
    return {"time_limit_s": 10, "threads": 1, "options": options}


@pytest.mark.parametrize(
    "solver_options",
    [
        {"write_solution_to_file": True, "solution_file": "{path}"},
        {"log_file": "{path}"},
        {"write_model_to_file": True, "write_model_file": "{path}"},
    ],
)
def test_highs_solver_options_cannot_touch_files(tmp_path: Path, solver_options: dict) -> None:
    """HiGHS options that name files are refused before the solve; the victim file is untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    options = {k: (str(victim) if v == "{path}" else v) for k, v in solver_options.items()}
    with pytest.raises(ValueError, match=r"options\.solver_options\.(write_|solution_file|log_file)"):
        solve(TINY, "milp_highs", _params(solver_options=options, isolate=False))
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim.txt"]


def test_highs_adapter_refuses_file_options_on_its_own(tmp_path: Path) -> None:
    """Defence in depth: the HiGHS adapter itself rejects keys outside its allow-list."""
    from optplace.backends import get_backend
    from optplace.backends.common import SolverSettings
    from optplace.backends.linear import ModelBuilder

    builder = ModelBuilder()
    builder.add_vars("x", 2)
    model = builder.build(np.array([1.0, 2.0]))
    target = tmp_path / "written.sol"
    settings = SolverSettings(options={"write_solution_to_file": True, "solution_file": str(target)})
    with pytest.raises(ValueError, match="write_solution_to_file"):
        get_backend("highs").solve(model, settings)
    assert not target.exists()


def test_cpsat_solver_options_are_an_allow_list() -> None:
    """CP-SAT strings and logging (log_prefix, log_search_progress) and the worker count are refused."""
    for options in ({"log_prefix": "x"}, {"log_search_progress": True}, {"num_workers": 64}):
        with pytest.raises(ValueError, match=r"options\.solver_options\."):
            solve(TINY, "cpsat", _params(solver_options=options, isolate=False))
    result = solve(TINY, "cpsat", _params(solver_options={"linearization_level": 2}, isolate=False))
    assert result.status.value in ("optimal", "feasible") and result.hosted == 2


def _script(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, marker


@pytest.mark.parametrize("name", ["asl:{script}", "{script}", "cbc", "gurobi_direct", "glpk"])
def test_pyomo_solver_name_cannot_run_a_program(tmp_path: Path, name: str) -> None:
    """solver_name is one of a fixed list of installed solvers: a path or 'asl:<path>' never runs."""
    script, marker = _script(tmp_path)
    with pytest.raises(ValueError, match=r"options\.solver_name"):
        solve(TINY, "milp_pyomo", _params(solver_name=name.format(script=script), isolate=False))
    assert not marker.exists()


def test_pyomo_adapter_refuses_unlisted_solvers(tmp_path: Path) -> None:
    """Defence in depth: choose_solver refuses any name outside its list before Pyomo sees it."""
    from optplace.backends.pyomo_backend import choose_solver

    script, marker = _script(tmp_path)
    with pytest.raises(ValueError, match="not allowed"):
        choose_solver(f"asl:{script}")
    assert not marker.exists()


def test_pyomo_with_a_listed_solver_still_solves() -> None:
    """The allow-listed default and HiGHS tuning options keep milp_pyomo working."""
    result = solve(TINY, "milp_pyomo", _params(solver_name="highs", solver_options={"presolve": "off"}, isolate=False))
    assert result.status.value in ("optimal", "feasible") and result.hosted == 2


@pytest.mark.parametrize(
    ("method", "options", "field"),
    [
        ("ordered_first_fit", {"order": "bogus"}, "options.order"),
        ("regret_greedy", {"order": 3}, "options.order"),
        ("local_search", {"max_rounds": "abc"}, "options.max_rounds"),
        ("local_search", {"max_rounds": True}, "options.max_rounds"),
        ("local_search", {"max_rounds": -1}, "options.max_rounds"),
        ("local_search", {"initial_placement": {"ghost": "gpu0"}}, "options.initial_placement"),
        ("knapsack_utilization", {"fit": "bogus"}, "options.fit"),
        ("first_fit", {"anything": 1}, "options.anything"),
        ("milp_highs", {"refine_rounds": 2.5}, "options.refine_rounds"),
        ("milp_highs", {"warm_start_methods": ["milp_highs"]}, "options.warm_start_methods"),
        ("auto", {"heuristic_share": "0.5"}, "options.heuristic_share"),
        ("configuration", {"heuristics": ["not_a_method"]}, "options.heuristics"),
    ],
)
def test_bad_options_are_rejected_before_the_method_runs(method: str, options: dict, field: str) -> None:
    """A wrong type, an unknown enum value, a name not in the instance or an unknown key: a ValueError
    naming ``options.<key>``, never an error result or a silent default."""
    with pytest.raises(ValueError, match=rf"{field}\b"):
        solve(TINY, method, {"options": options})


def test_initial_placement_naming_an_unknown_accelerator_is_rejected() -> None:
    """initial_placement is checked against the instance's accelerators as well as its applications."""
    app = TINY.applications[0].name
    with pytest.raises(ValueError, match="unknown accelerator 'nowhere'"):
        solve(TINY, "local_search", {"options": {"initial_placement": {app: "nowhere"}}})


@pytest.mark.parametrize("field", ["seed", "threads"])
def test_seed_and_threads_are_bounded(field: str) -> None:
    """A seed or thread count of 2^40 is invalid (solvers take 32-bit seeds; threads are capped)."""
    with pytest.raises(ValueError, match=field):
        SolveParams.model_validate({field: 2**40})
    with pytest.raises(ValueError, match=field):
        SolveParams.model_validate({field: "3"})


def test_every_method_publishes_a_closed_options_schema() -> None:
    """Every registered method has an options model whose JSON Schema forbids unknown keys."""
    for info in list_methods():
        schema = info.options_schema()
        assert schema.get("additionalProperties") is False, info.name
        json.dumps(schema)  # a plain JSON document


def test_valid_options_reach_the_method() -> None:
    """A valid option changes what the method does (the order shows in its stats)."""
    result = solve(TINY, "ordered_first_fit", {"options": {"order": "slack"}})
    assert result.stats["order"] == "slack"
    assert result.params["options"] == {"order": "slack"}


def test_a_script_in_the_current_directory_is_not_special(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a bare executable name on PATH is refused as a Pyomo solver."""
    script, marker = _script(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    with pytest.raises(ValueError, match=r"options\.solver_name"):
        solve(TINY, "milp_pyomo", _params(solver_name=script.name, isolate=False))
    assert not marker.exists()
