"""Generators of classic operations-research problems whose structure is known, and their file formats.

* **Exact-triplet bin packing** (Falkenauer's "triplets", 1996): every bin of capacity ``C`` is
  filled by exactly three items: the first uniform in ``[0.38 C, 0.49 C]``, the second uniform in
  ``[C/4, (C - first) / 2]``, the third what is left. Every item is larger than ``C/4`` and smaller
  than ``C/2``, so no bin holds four items or fewer than three can fill it, and the optimum is
  exactly ``n / 3`` bins, the volume bound. The items are shuffled, so first-fit decreasing
  typically needs about 17% more bins, and closing the last bin is the whole difficulty.
* **GAP types D and E** (Chu and Beasley 1997; Laguna et al. 1995 for E), the hard correlated
  types: D has ``r_ij ~ U[1, 100]``, ``c_ij = 111 - r_ij + e_ij`` with ``e_ij ~ U[-10, 10]``; E has
  ``r_ij = 1 - 10 ln U(0, 1]`` (rounded), ``c_ij = 1000 / r_ij - 10 U[0, 1]`` (rounded); both
  ``b_i = 0.8 sum_j r_ij / m``, minimise cost. Optima are not known for generated instances: they
  measure bounds and gaps, not distances to an optimum.

:func:`write_bpp` and :func:`write_gap` write BPPLIB and one-problem OR-Library files, which
``optplace convert --from bpp`` and ``--from gap-single`` read back.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from optplace.convert import BinPackingProblem, GapProblem

TRIPLET_CAPACITY = 1000


def exact_triplets(items: int, seed: int, capacity: int = TRIPLET_CAPACITY) -> BinPackingProblem:
    """A shuffled exact-triplet bin-packing problem with ``items`` items (a multiple of 3); optimum ``items / 3``."""
    if items <= 0 or items % 3:
        raise ValueError(f"items must be a positive multiple of 3, not {items}")
    if capacity < 100:
        raise ValueError(f"capacity must be at least 100 to leave room for the construction, not {capacity}")
    rng = random.Random(seed)
    quarter = capacity // 4 + 1  # strictly more than C/4
    weights: list[int] = []
    for _ in range(items // 3):
        first = rng.randint(math.ceil(0.38 * capacity), math.floor(0.49 * capacity))
        rest = capacity - first
        second = rng.randint(quarter, rest // 2)
        weights += [first, second, rest - second]
    rng.shuffle(weights)
    return BinPackingProblem(f"triplets-{items}-{seed}", capacity, [(w, 1) for w in weights])


def gap_problem(kind: str, agents: int, jobs: int, seed: int) -> GapProblem:
    """A GAP of type ``d`` or ``e`` (minimise cost; see the module docstring)."""
    kind = kind.lower()
    if kind not in ("d", "e"):
        raise ValueError(f"kind must be 'd' or 'e', not {kind!r}")
    if agents < 1 or jobs < 1:
        raise ValueError("agents and jobs must be positive")
    rng = random.Random(f"gap-{kind}-{agents}-{jobs}-{seed}")
    resources: list[list[int]] = []
    costs: list[list[int]] = []
    for _ in range(agents):
        if kind == "d":
            r = [rng.randint(1, 100) for _ in range(jobs)]
            c = [111 - x + rng.randint(-10, 10) for x in r]
        else:
            r = [max(1, round(1 - 10 * math.log(1.0 - rng.random()))) for _ in range(jobs)]
            c = [max(1, round(1000 / x - 10 * rng.random())) for x in r]
        resources.append(r)
        costs.append(c)
    capacities = [max(1, int(0.8 * sum(row) / agents)) for row in resources]
    return GapProblem(f"{kind}{agents:02d}{jobs}-{seed}", costs, resources, capacities)


def write_bpp(problem: BinPackingProblem, path: str | Path) -> Path:
    """Write ``problem`` in BPPLIB layout (item-type count, capacity, ``weight count`` lines)."""
    path = Path(path)
    lines = [str(len(problem.items)), str(problem.capacity)] + [f"{w} {c}" for w, c in problem.items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_gap(problem: GapProblem, path: str | Path) -> Path:
    """Write one GAP problem without the leading count (``m n``, costs, resources, capacities)."""
    path = Path(path)
    rows = [f"{problem.m} {problem.n}"]
    rows += [" ".join(map(str, row)) for row in problem.costs]
    rows += [" ".join(map(str, row)) for row in problem.resources]
    rows.append(" ".join(map(str, problem.capacities)))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
