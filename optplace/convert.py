"""Operations-research benchmark files as placement instances: OR-Library GAP and BPPLIB bin packing.

Both are special cases of placement on processor-sharing (PS) accelerators whose latency SLOs never
bind, so only the utilisation cap constrains a placement:

* **Generalized assignment (GAP)**, OR-Library format (gap1-gap12 maximise profit, gapa-gapc minimise
  cost). Agent i becomes accelerator ``a<i>`` of its own type ``t<i>`` on its own node; job j becomes
  application ``j<j>`` of its own model ``m<j>`` at 1 request/s. The model's service time on type
  ``t<i>`` is ``1000 * u * r[i][j] / b[i]`` ms, so the utilisation of a set of jobs on accelerator i is
  ``u * sum(r[i][j]) / b[i]`` and the cap ``u`` binds exactly where the capacity ``b[i]`` does. The profit
  or cost ``c[i][j]`` becomes ``value_by_accelerator`` (objective ``max_value``) or
  ``cost_by_accelerator`` (``min_cost``, accelerator fixed cost 0), and every application must be
  hosted (``host_all``).
* **One-dimensional bin packing**, BPPLIB layout: the number of item types, the capacity, then one
  line per type, ``weight count`` (or just ``weight``, count 1). Bins become identical accelerators,
  items applications with utilisation ``u * weight / capacity``; objective ``min_accelerators`` with
  ``host_all``. The cluster gets as many accelerators as first-fit decreasing needs, an upper bound on
  the optimum, so the optimum is preserved and the instance stays small.

Exactness: the evaluator compares the utilisation with the cap under a relative tolerance of 1e-9.
A set that fills a capacity exactly computes to ``u`` within a few ulps (accepted), and one unit over
it computes to ``u * (1 + 1/b)`` (rejected) as long as ``b < 1e8``; larger capacities are refused.

Errors in the input raise :class:`ConversionError` naming the file and line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from optplace.domain import (
    SLO,
    Accelerator,
    AcceleratorType,
    Application,
    ClusterSettings,
    Discipline,
    Instance,
    Model,
    Node,
    Objective,
    Profile,
)
from optplace.exceptions import ConversionError

UTILIZATION_CAP = 0.9  # the cap u; any value in (0, 1) works, 0.9 leaves the queues clearly stable
RATE_RPS = 1.0
MAX_CAPACITY = 1e8  # beyond this one unit of capacity is below the evaluator's relative tolerance


@dataclass(frozen=True)
class GapProblem:
    """One generalized assignment problem: ``m`` agents, ``n`` jobs (row-major ``m x n`` matrices)."""

    name: str
    costs: list[list[int]]  # c[i][j], profit (maximise) or cost (minimise)
    resources: list[list[int]]  # r[i][j]
    capacities: list[int]  # b[i]

    @property
    def m(self) -> int:
        return len(self.capacities)

    @property
    def n(self) -> int:
        return len(self.costs[0]) if self.costs else 0


@dataclass(frozen=True)
class BinPackingProblem:
    """A one-dimensional bin-packing problem: ``(weight, count)`` item types and one capacity."""

    name: str
    capacity: int
    items: list[tuple[int, int]]

    def weights(self) -> list[int]:
        """Every item's weight, item types expanded by their counts."""
        return [w for w, count in self.items for _ in range(count)]


# --- tokenising with line numbers ------------------------------------------------------------


class _Tokens:
    """Whitespace-separated integers of a file, each remembered with its line number."""

    def __init__(self, path: Path):
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConversionError(f"{path}: cannot read the file: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise ConversionError(f"{path}: not a text file") from None
        self.items: list[tuple[str, int]] = [
            (token, number) for number, line in enumerate(text.splitlines(), start=1) for token in line.split()
        ]
        self.position = 0

    def left(self) -> int:
        return len(self.items) - self.position

    def integer(self, what: str, *, minimum: int | None = None) -> int:
        if self.position >= len(self.items):
            last = self.items[-1][1] if self.items else 0
            raise ConversionError(f"{self.path}: file ends at line {last} but {what} is still expected")
        token, line = self.items[self.position]
        self.position += 1
        try:
            value = int(token)
        except ValueError:
            raise ConversionError(f"{self.path} line {line}: {what} must be an integer, found {token!r}") from None
        if minimum is not None and value < minimum:
            raise ConversionError(f"{self.path} line {line}: {what} must be at least {minimum}, found {value}")
        return value

    def line(self) -> int:
        """Line of the token read last."""
        return self.items[self.position - 1][1] if self.position else 0


# --- OR-Library GAP --------------------------------------------------------------------------


def read_orlib_gap(path: str | Path) -> list[GapProblem]:
    """Every problem of an OR-Library GAP file (``P``; then per problem ``m n``, c, r, b)."""
    path = Path(path)
    tokens = _Tokens(path)
    count = tokens.integer("the number of problems", minimum=1)
    problems = []
    for index in range(1, count + 1):
        where = f"problem {index}"
        m = tokens.integer(f"{where}: the number of agents m", minimum=1)
        n = tokens.integer(f"{where}: the number of jobs n", minimum=1)
        costs = [[tokens.integer(f"{where}: cost c[{i + 1}][{j + 1}]") for j in range(n)] for i in range(m)]
        resources = [
            [tokens.integer(f"{where}: resource use r[{i + 1}][{j + 1}]", minimum=1) for j in range(n)]
            for i in range(m)
        ]
        capacities = [tokens.integer(f"{where}: capacity b[{i + 1}]", minimum=1) for i in range(m)]
        too_big = [b for b in capacities if b >= MAX_CAPACITY]
        if too_big:
            raise ConversionError(
                f"{path} line {tokens.line()}: {where} has capacity {too_big[0]}; capacities of {MAX_CAPACITY:g} "
                "or more cannot be told apart from one unit more under the evaluator's relative tolerance"
            )
        problems.append(GapProblem(f"{path.stem}-{index}", costs, resources, capacities))
    if tokens.left():
        token, line = tokens.items[tokens.position]
        raise ConversionError(
            f"{path} line {line}: unexpected data {token!r} after the {count} problems the file announces"
        )
    return problems


def read_gap_single(path: str | Path) -> GapProblem:
    """A file holding one GAP problem without the leading problem count (Yagiura's type C layout)."""
    path = Path(path)
    tokens = _Tokens(path)
    m = tokens.integer("the number of agents m", minimum=1)
    n = tokens.integer("the number of jobs n", minimum=1)
    costs = [[tokens.integer(f"cost c[{i + 1}][{j + 1}]") for j in range(n)] for i in range(m)]
    resources = [[tokens.integer(f"resource use r[{i + 1}][{j + 1}]", minimum=1) for j in range(n)] for i in range(m)]
    capacities = [tokens.integer(f"capacity b[{i + 1}]", minimum=1) for i in range(m)]
    if tokens.left():
        token, line = tokens.items[tokens.position]
        raise ConversionError(f"{path} line {line}: unexpected data {token!r} after the capacities")
    return GapProblem(path.stem, costs, resources, capacities)


def gap_sense(path: str | Path) -> str:
    """``max`` for OR-Library gap1-gap12, ``min`` for gapa-gapc and Yagiura's files (named ``c..``/``d..``)."""
    stem = Path(path).stem.lower()
    if stem.startswith("gap") and stem[3:].isdigit():
        return "max"
    return "min"


def read_optima(path: str | Path) -> dict[tuple[str, int], float]:
    """Known optima as {(file stem, problem): optimum}.

    Reads OR-Library's layout (``file,problem,sense,m,n,optimum``) and the one-problem-per-file
    layout of ``knapsack-small`` (``instance,optimum``, problem 1).
    """
    out: dict[tuple[str, int], float] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if not row.get("optimum"):
                continue
            if "file" in row:
                out[(Path(row["file"]).stem, int(row["problem"]))] = float(row["optimum"])
            elif "instance" in row:
                out[(row["instance"], 1)] = float(row["optimum"])
    return out


def gap_to_instance(problem: GapProblem, sense: str, *, provenance: dict | None = None) -> Instance:
    """The placement instance whose optimum equals the GAP optimum (see the module docstring)."""
    if sense not in ("max", "min"):
        raise ValueError(f"sense must be 'max' or 'min', not {sense!r}")
    u = UTILIZATION_CAP
    service = [[1000.0 * u * r / b for r in row] for row, b in zip(problem.resources, problem.capacities)]
    # PS: R = s / (1 - rho) <= s / (1 - u) at the cap, so twice the largest such value never binds.
    feasible = [s for row in service for s in row if s <= 1000.0 * u]
    slo_ms = float(math.ceil(2.0 * max(feasible or [1000.0 * u]) / (1.0 - u)))
    types = [AcceleratorType(name=f"t{i + 1}", discipline=Discipline.PS, cost=0.0) for i in range(problem.m)]
    nodes = [
        Node(name=f"n{i + 1}", memory_mb=1.0, accelerators=[Accelerator(name=f"a{i + 1}", type=f"t{i + 1}")])
        for i in range(problem.m)
    ]
    models = [
        Model(
            name=f"m{j + 1}",
            profiles={f"t{i + 1}": Profile(service_time_ms=service[i][j]) for i in range(problem.m)},
        )
        for j in range(problem.n)
    ]
    field = "value_by_accelerator" if sense == "max" else "cost_by_accelerator"
    applications = [
        Application(
            name=f"j{j + 1}",
            model=f"m{j + 1}",
            rate_rps=RATE_RPS,
            slo=SLO(latency_ms=slo_ms),
            **{field: {f"a{i + 1}": float(problem.costs[i][j]) for i in range(problem.m)}},
        )
        for j in range(problem.n)
    ]
    objective = Objective.MAX_VALUE if sense == "max" else Objective.MIN_COST
    return Instance(
        name=problem.name,
        description=(
            f"Generalized assignment problem {problem.name} ({problem.m} agents, {problem.n} jobs, {sense}imise "
            f"{'profit' if sense == 'max' else 'cost'}) as placement: utilisation u*r[i][j]/b[i] with cap u={u}, "
            "loose mean SLOs, every application hosted."
        ),
        settings=ClusterSettings(utilization_cap=u, memory_cap=1.0),
        accelerator_types=types,
        nodes=nodes,
        models=models,
        applications=applications,
        objectives=[objective],
        host_all=True,
        provenance={"format": "orlib-gap", "sense": sense, **(provenance or {})},
    )


# --- BPPLIB bin packing ----------------------------------------------------------------------


def read_bpp(path: str | Path) -> BinPackingProblem:
    """A BPPLIB file: item-type count, capacity, then ``weight [count]`` per line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConversionError(f"{path}: cannot read the file: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConversionError(f"{path}: not a text file") from None
    numbered = [(number, line.split()) for number, line in enumerate(lines, start=1) if line.strip()]
    if len(numbered) < 2:
        raise ConversionError(f"{path}: expected the number of item types and the capacity on the first two lines")

    def integer(number: int, token: str, what: str) -> int:
        try:
            value = int(token)
        except ValueError:
            raise ConversionError(f"{path} line {number}: {what} must be an integer, found {token!r}") from None
        if value < 1:
            raise ConversionError(f"{path} line {number}: {what} must be positive, found {value}")
        return value

    (line_n, head_n), (line_c, head_c) = numbered[0], numbered[1]
    if len(head_n) != 1 or len(head_c) != 1:
        bad = line_n if len(head_n) != 1 else line_c
        raise ConversionError(f"{path} line {bad}: expected a single integer (item-type count, then capacity)")
    types = integer(line_n, head_n[0], "the number of item types")
    capacity = integer(line_c, head_c[0], "the capacity")
    if capacity >= MAX_CAPACITY:
        raise ConversionError(f"{path} line {line_c}: capacity {capacity} is too large (at most {MAX_CAPACITY:g})")
    body = numbered[2:]
    if len(body) != types:
        where = body[-1][0] if body else line_c
        raise ConversionError(
            f"{path} line {where}: the file announces {types} item types but has {len(body)} item lines"
        )
    items = []
    for number, tokens in body:
        if len(tokens) not in (1, 2):
            raise ConversionError(
                f"{path} line {number}: expected 'weight count' or 'weight', found {len(tokens)} fields"
            )
        weight = integer(number, tokens[0], "the weight")
        count = integer(number, tokens[1], "the count") if len(tokens) == 2 else 1
        if weight > capacity:
            raise ConversionError(
                f"{path} line {number}: weight {weight} exceeds the capacity {capacity}; such an item fits no bin"
            )
        items.append((weight, count))
    return BinPackingProblem(path.stem, capacity, items)


def first_fit_decreasing(weights: list[int], capacity: int) -> int:
    """Bins used by first-fit decreasing: an upper bound on the bin-packing optimum (exact integers)."""
    loads: list[int] = []
    for w in sorted(weights, reverse=True):
        for index, load in enumerate(loads):
            if load + w <= capacity:
                loads[index] = load + w
                break
        else:
            loads.append(w)
    return len(loads)


def bpp_to_instance(problem: BinPackingProblem, *, provenance: dict | None = None) -> Instance:
    """Identical PS accelerators as bins; minimise the accelerators used, every item hosted."""
    u = UTILIZATION_CAP
    weights = problem.weights()
    bins = first_fit_decreasing(weights, problem.capacity)
    slo_ms = float(math.ceil(2.0 * 1000.0 * u / (1.0 - u)))  # PS latency at the cap is at most s/(1-u) <= 1000u/(1-u)
    models = [
        Model(name=f"w{t + 1}", profiles={"bin": Profile(service_time_ms=1000.0 * u * weight / problem.capacity)})
        for t, (weight, _count) in enumerate(problem.items)
    ]
    applications = []
    for t, (_weight, count) in enumerate(problem.items):
        for k in range(count):
            applications.append(
                Application(name=f"i{t + 1}_{k + 1}", model=f"w{t + 1}", rate_rps=RATE_RPS, slo=SLO(latency_ms=slo_ms))
            )
    return Instance(
        name=problem.name,
        description=(
            f"One-dimensional bin packing {problem.name} ({len(weights)} items, capacity {problem.capacity}) as "
            f"placement: {bins} identical accelerators (first-fit decreasing's count), utilisation u*w/C with cap "
            f"u={u}, loose mean SLOs, every application hosted, fewest accelerators."
        ),
        settings=ClusterSettings(utilization_cap=u, memory_cap=1.0),
        accelerator_types=[AcceleratorType(name="bin", discipline=Discipline.PS)],
        nodes=[
            Node(name=f"n{b + 1}", memory_mb=1.0, accelerators=[Accelerator(name=f"b{b + 1}", type="bin")])
            for b in range(bins)
        ],
        models=models,
        applications=applications,
        objectives=[Objective.MIN_ACCELERATORS],
        host_all=True,
        provenance={
            "format": "bpp",
            "capacity": problem.capacity,
            "items": len(weights),
            "first_fit_decreasing_bins": bins,
            **(provenance or {}),
        },
    )
