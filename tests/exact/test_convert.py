"""optplace.convert and ``optplace convert``: OR-Library GAP and BPPLIB files as placement instances."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optplace import convert
from optplace.cli import main
from optplace.evaluate import evaluate
from optplace.io import load_instance

ROOT = Path(__file__).resolve().parents[2]
ORLIB = ROOT / "instances" / "orlib"
SHARED = ROOT.parent / "shared" / "data"

GAP_TEXT = """2
2 3
5 6 7
1 2 3
4 4 4
2 2 2
6 4
2 2
1 9
8 2
3 3
3 3
3 3
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def gap_reference_optimum(problem: convert.GapProblem, sense: str) -> tuple[float, list[int]]:
    """Optimal GAP assignment straight from the matrices (scipy's HiGHS MILP), independent of optplace."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    m, n = problem.m, problem.n
    c = np.array(problem.costs, dtype=float).ravel()  # x[i, j] row-major
    r = np.array(problem.resources, dtype=float)
    assign = np.zeros((n, m * n))
    for j in range(n):
        assign[j, j::n] = 1.0
    capacity = np.zeros((m, m * n))
    for i in range(m):
        capacity[i, i * n : (i + 1) * n] = r[i]
    result = milp(
        -c if sense == "max" else c,
        constraints=[LinearConstraint(assign, 1, 1), LinearConstraint(capacity, -np.inf, problem.capacities)],
        integrality=np.ones(m * n),
        bounds=Bounds(0, 1),
    )
    x = np.rint(result.x).reshape(m, n)
    return float(c @ x.ravel()), [int(np.argmax(x[:, j])) for j in range(n)]


def test_reads_every_problem_of_a_gap_file(tmp_path):
    """A two-problem file gives two problems with the right matrices."""
    problems = convert.read_orlib_gap(write(tmp_path, "gapx.txt", GAP_TEXT))
    assert [(p.m, p.n) for p in problems] == [(2, 3), (2, 2)]
    assert problems[0].costs == [[5, 6, 7], [1, 2, 3]]
    assert problems[0].resources == [[4, 4, 4], [2, 2, 2]]
    assert problems[0].capacities == [6, 4]
    assert problems[1].name == "gapx-2"


def test_gap_sense_follows_the_file_name():
    """gap1-gap12 maximise profit; gapa-gapc and Yagiura's files minimise cost."""
    assert convert.gap_sense("gap12.txt") == "max"
    assert convert.gap_sense("gapb.txt") == "min"
    assert convert.gap_sense("c10400") == "min"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\n2 2\n1 2\n3 x\n", "line 4: problem 1: cost c[2][2] must be an integer, found 'x'"),
        ("1\n2 2\n1 2\n3 4\n1 1\n1 1\n5\n", "file ends at line 7 but problem 1: capacity b[2] is still expected"),
        ("1\n1 1\n3\n0\n5\n", "line 4: problem 1: resource use r[1][1] must be at least 1, found 0"),
        ("1\n1 1\n3\n2\n5\n7\n", "line 6: unexpected data '7' after the 1 problems"),
        ("1\n1 1\n3\n2\n100000000\n", "capacities of 1e+08 or more"),
    ],
)
def test_gap_format_errors_name_the_line(tmp_path, text, message):
    """Malformed GAP files raise ConversionError naming the line and what was expected."""
    with pytest.raises(
        convert.ConversionError, match=message.replace("[", r"\[").replace("]", r"\]").replace("+", r"\+")
    ):
        convert.read_orlib_gap(write(tmp_path, "bad.txt", text))


def test_binding_capacity_is_accepted_and_one_unit_more_is_not(tmp_path):
    """Jobs that fill a capacity exactly are feasible; one unit over it violates the utilisation cap."""
    text = "1\n1 3\n1 1 1\n3 5 7\n15\n"  # 3 + 5 + 7 = 15 exactly
    problem = convert.read_orlib_gap(write(tmp_path, "gapt.txt", text))[0]
    instance = convert.gap_to_instance(problem, "max")
    assert evaluate(instance, {"j1": "a1", "j2": "a1", "j3": "a1"}).feasible
    over = convert.read_orlib_gap(write(tmp_path, "gapu.txt", "1\n1 3\n1 1 1\n3 5 8\n15\n"))[0]
    report = evaluate(convert.gap_to_instance(over, "max"), {"j1": "a1", "j2": "a1", "j3": "a1"})
    assert "utilization_cap_exceeded" in {v.code.value for v in report.violations}


@pytest.mark.parametrize("name", ["gap1", "gap2", "gapa"])
def test_published_optimal_assignments_are_accepted_with_their_value(name):
    """An optimal GAP assignment (solved from the raw matrices) is feasible and scores the published optimum."""
    path = SHARED / "orlib-gap" / f"{name}.txt"
    if not path.exists():
        pytest.skip("shared OR-Library data not present")
    optima = convert.read_optima(path.with_name("optima.csv"))
    sense = convert.gap_sense(path)
    problem = convert.read_orlib_gap(path)[0]
    value, agents = gap_reference_optimum(problem, sense)
    assert value == optima[(name, 1)]
    instance = convert.gap_to_instance(problem, sense)
    placement = {f"j{j + 1}": f"a{i + 1}" for j, i in enumerate(agents)}
    report = evaluate(instance, placement)
    assert report.feasible, report.violations[:3]
    assert report.objectives[instance.objectives[0].value] == value


def test_slos_never_bind_at_the_cap(tmp_path):
    """Every application's SLO exceeds its PS latency at the utilisation cap."""
    problem = convert.read_orlib_gap(write(tmp_path, "gapx.txt", GAP_TEXT))[0]
    instance = convert.gap_to_instance(problem, "min")
    worst = max(p.service_time_ms for m in instance.models for p in m.profiles.values() if p.service_time_ms <= 900)
    assert all(a.slo.latency_ms > worst / (1 - convert.UTILIZATION_CAP) for a in instance.applications)
    assert instance.host_all and instance.objectives[0].value == "min_cost"
    assert all(t.cost == 0 for t in instance.accelerator_types)


def test_reads_bpplib_with_and_without_counts(tmp_path):
    """Lines are 'weight count' or a bare weight (count 1); the header counts item types."""
    counted = convert.read_bpp(write(tmp_path, "a.txt", "2\n10\n6 2\n3 3\n"))
    assert counted.items == [(6, 2), (3, 3)] and counted.capacity == 10
    bare = convert.read_bpp(write(tmp_path, "b.txt", "3\n10\n6\n3\n3\n"))
    assert bare.weights() == [6, 3, 3]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2\n10\n6 2\n", "line 3: the file announces 2 item types but has 1 item lines"),
        ("1\n10\n6 x\n", "line 3: the count must be an integer, found 'x'"),
        ("1\n10\n12 1\n", "line 3: weight 12 exceeds the capacity 10"),
        ("1\n0\n1 1\n", "line 2: the capacity must be positive, found 0"),
        ("1\n10\n1 2 3\n", "line 3: expected 'weight count' or 'weight', found 3 fields"),
        ("1 2\n10\n1\n", "line 1: expected a single integer"),
    ],
)
def test_bpp_format_errors_name_the_line(tmp_path, text, message):
    """Malformed BPPLIB files raise ConversionError naming the line."""
    with pytest.raises(convert.ConversionError, match=message):
        convert.read_bpp(write(tmp_path, "bad.txt", text))


def test_first_fit_decreasing_counts_bins():
    """FFD packs 6,5,4,3,2 into capacity 10 with 2 bins and needs 3 for 7,7,7."""
    assert convert.first_fit_decreasing([2, 6, 4, 3, 5], 10) == 2
    assert convert.first_fit_decreasing([7, 7, 7], 10) == 3


def test_bin_packing_instance_uses_ffd_many_identical_accelerators(tmp_path):
    """The cluster has FFD's number of identical PS accelerators, and a packing within capacity is feasible."""
    problem = convert.read_bpp(write(tmp_path, "p.txt", "3\n10\n6 1\n4 1\n5 2\n"))
    instance = convert.bpp_to_instance(problem)
    assert len(instance.nodes) == convert.first_fit_decreasing(problem.weights(), 10) == 2
    assert instance.objectives[0].value == "min_accelerators" and instance.host_all
    report = evaluate(instance, {"i1_1": "b1", "i2_1": "b1", "i3_1": "b2", "i3_2": "b2"})
    assert report.feasible and report.objectives["min_accelerators"] == 2


def test_cli_writes_one_instance_per_problem(tmp_path, capsys):
    """``optplace convert --from orlib-gap`` writes a loadable file per problem and prints their paths."""
    source = write(tmp_path, "gapx.txt", GAP_TEXT)
    out = tmp_path / "out"
    assert main(["convert", "--from", "orlib-gap", str(source), "--out", str(out)]) == 0
    written = sorted(out.glob("*.json"))
    assert [p.name for p in written] == ["gapx-1.json", "gapx-2.json"]
    assert str(written[0]) in capsys.readouterr().out
    assert load_instance(written[1]).provenance["problem"] == 2


def test_cli_reports_a_bad_file_and_exits_2(tmp_path, capsys):
    """A format error is printed with its line, exit code 2, nothing written."""
    source = write(tmp_path, "bad.txt", "1\n10\n12 1\n")
    assert main(["convert", "--from", "bpp", str(source), "--out", str(tmp_path / "o")]) == 2
    assert "line 3" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_records_known_optima_beside_the_input(tmp_path):
    """An optima.csv beside the input puts the optimum into each instance's provenance."""
    source = write(tmp_path, "gap99.txt", GAP_TEXT)
    write(tmp_path, "optima.csv", "file,problem,sense,m,n,optimum\ngap99.txt,2,max,2,2,17\n")
    assert main(["convert", "--from", "orlib-gap", str(source), "--out", str(tmp_path / "o")]) == 0
    second = json.loads((tmp_path / "o" / "gap99-2.json").read_text())
    assert second["provenance"]["known_optimum"]["max_value"] == 17


@pytest.mark.parametrize("path", sorted(ORLIB.glob("gap*.json")), ids=lambda p: p.stem)
def test_committed_instances_match_a_fresh_conversion(path):
    """instances/orlib is exactly what the converter makes from the shared OR-Library files."""
    instance = load_instance(path)
    source = SHARED / "orlib-gap" / f"{path.stem.split('-')[0]}.txt"
    if not source.exists():
        pytest.skip("shared OR-Library data not present")
    problem = convert.read_orlib_gap(source)[instance.provenance["problem"] - 1]
    fresh = convert.gap_to_instance(problem, "max", provenance=instance.provenance)
    assert fresh.model_dump() == instance.model_dump()
