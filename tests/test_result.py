"""Status.has_solution, SolveResult.summary(), reading instances from every source, and the objectives warning."""

from __future__ import annotations

import io
import json
import sys

import pytest

import optplace
from optplace import Status, solve
from optplace.exceptions import InstanceError, ObjectiveWarning
from optplace.result import UnplacedReason
from tests.conftest import SEED, make_instance


@pytest.mark.parametrize("status", list(Status))
def test_has_solution_means_optimal_or_feasible(status: Status) -> None:
    """Exactly optimal and feasible results carry a placement."""
    assert status.has_solution == (status.value in ("optimal", "feasible"))


def test_summary_reports_placement_unplaced_and_bound(instance) -> None:
    """summary() has the status line, one row per placed application, the unplaced with reasons, and the bound."""
    result = solve(instance, "first_fit", {"objectives": ["max_hosted"]})
    text = result.summary("fixture")
    lines = text.splitlines()
    assert lines[0].startswith("instance fixture: method first_fit, status optimal (completed)")
    for a in result.assignments:
        assert any(line.startswith(a.application) and a.accelerator in line for line in lines)
    assert f"hosted {result.hosted}/2; max_hosted = {result.objective:g}, bound {result.bound:g}" in text
    assert result.summary().startswith("method first_fit")


def test_read_accepts_path_string_bytes_stream_and_stdin(monkeypatch, tmp_path) -> None:
    """optplace.read takes a path, JSON text, JSON bytes, an open file and '-' (stdin) alike."""
    document = json.dumps(make_instance())
    path = tmp_path / "x.json"
    path.write_text(document)
    expected = optplace.Instance.model_validate(make_instance())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(document.encode())))
    sources = [path, str(path), document, document.encode(), io.StringIO(document), "-"]
    assert all(optplace.read(source) == expected for source in sources)
    assert optplace.load_instance is optplace.read


@pytest.mark.parametrize(
    ("source", "code"),
    [("/nonexistent/x.json", "unreadable"), (b"\xff\xfe{", "invalid_encoding"), ('{"name": ', "invalid_json")],
)
def test_read_errors_name_what_is_wrong(source, code) -> None:
    """Unreadable files, non-UTF-8 bytes and broken JSON raise InstanceError with their own code."""
    with pytest.raises(InstanceError) as caught:
        optplace.read(source)
    assert caught.value.errors[0]["code"] == code


def test_objectives_that_host_nothing_warn_and_explain(instance) -> None:
    """min_accelerators alone hosts nothing: solve warns, the message says how to fix it, every detail says why."""
    with pytest.warns(ObjectiveWarning, match="put max_hosted first"):
        result = solve(instance, "auto", {"objectives": ["min_accelerators"], "time_limit_s": 10})
    assert result.status == Status.OPTIMAL and result.hosted == 0
    assert "hosting nothing optimal" in result.message
    capacity = [u for u in result.unplaced if u.reason == UnplacedReason.INSUFFICIENT_CAPACITY]
    assert capacity and all("but nothing is hosted: the objectives" in u.detail for u in capacity)
    assert all("fits alone on" in u.detail and "against an SLO of" in u.detail for u in capacity)


def test_usual_objectives_do_not_warn(recwarn) -> None:
    """The default objectives (max_hosted first) raise no objectives warning; a greedy method under bad ones does."""
    solve(optplace.read(SEED[0]), "first_fit")
    assert not [w for w in recwarn if issubclass(w.category, ObjectiveWarning)]
    with pytest.warns(ObjectiveWarning):
        solve(optplace.read(SEED[0]), "first_fit", {"objectives": ["min_cost"]})


def test_solve_names_bad_parameters_and_documents(instance) -> None:
    """Bad params raise ParamsError and a bad instance mapping InstanceError, both InvalidInputError with pointers."""
    from optplace.exceptions import InvalidInputError, ParamsError

    with pytest.raises(ParamsError) as caught:
        solve(instance, "first_fit", {"time_limit_s": -1, "sed": 3})
    assert {e["pointer"] for e in caught.value.errors} == {"/time_limit_s", "/sed"}
    assert isinstance(caught.value, InvalidInputError) and isinstance(caught.value, ValueError)
    with pytest.raises(InstanceError) as bad:
        solve(make_instance(nodes=[]), "first_fit")
    assert bad.value.errors[0]["pointer"] == "/nodes"
    with pytest.raises(InvalidInputError, match="did you mean 'first_fit'"):
        solve(instance, "first_fitt")
