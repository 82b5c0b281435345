"""Generators of classic OR problems: exact triplets and GAP types D and E, and their file round trips."""

from __future__ import annotations

import pytest

from optplace import convert
from optplace.or_instances import exact_triplets, gap_problem, write_bpp, write_gap


@pytest.mark.parametrize(("items", "seed"), [(3, 0), (60, 1), (240, 7)])
def test_triplets_fill_every_bin_exactly_with_three_items(items, seed):
    """Weights sum to n/3 bins, each item in (C/4, C/2): no bin holds 4 items nor is filled by 2, so n/3 is optimal."""
    problem = exact_triplets(items, seed)
    weights = problem.weights()
    capacity = problem.capacity
    assert len(weights) == items and sum(weights) == items // 3 * capacity
    assert all(capacity / 4 < w < capacity / 2 for w in weights)


def test_triplets_are_reproducible_and_shuffled():
    """The same seed gives the same problem; the items are not in triplet order."""
    a, b = exact_triplets(60, 3), exact_triplets(60, 3)
    assert a == b and a != exact_triplets(60, 4)
    weights = a.weights()
    in_order = all(sum(weights[k : k + 3]) == a.capacity for k in range(0, 60, 3))
    assert not in_order


def test_triplets_refuse_a_count_that_is_not_a_multiple_of_three():
    """Only multiples of three make exact triplets."""
    with pytest.raises(ValueError, match="multiple of 3"):
        exact_triplets(10, 0)


def test_bpp_file_round_trip(tmp_path):
    """write_bpp writes what convert.read_bpp reads back, item for item."""
    problem = exact_triplets(30, 2)
    back = convert.read_bpp(write_bpp(problem, tmp_path / "t.txt"))
    assert back.capacity == problem.capacity and back.weights() == problem.weights()


@pytest.mark.parametrize("kind", ["d", "e"])
def test_gap_types_follow_their_definitions_and_round_trip(kind, tmp_path):
    """Type D: r in [1, 100], c = 111 - r + e with |e| <= 10; both: b = int(0.8 sum r / m); files round trip."""
    problem = gap_problem(kind, 5, 40, 0)
    assert problem.m == 5 and problem.n == 40
    for i in range(problem.m):
        assert problem.capacities[i] == max(1, int(0.8 * sum(problem.resources[i]) / problem.m))
        if kind == "d":
            assert all(1 <= r <= 100 for r in problem.resources[i])
            assert all(abs(c - (111 - r)) <= 10 for c, r in zip(problem.costs[i], problem.resources[i]))
    back = convert.read_gap_single(write_gap(problem, tmp_path / f"{kind}.txt"))
    assert (back.costs, back.resources, back.capacities) == (problem.costs, problem.resources, problem.capacities)
