"""Lexicographic objectives: exact-safe weights and the primary bound recovered from a weighted solve."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optplace.bounds import round_bound
from optplace.domain import Objective
from optplace.formulations.assignment.worker import _lex_weights, _primary_from_weighted


def test_weights_make_the_weighted_order_lexicographic():
    """Over every 0-1 point, minimising the weighted sum ranks points like the lexicographic order."""
    rng = np.random.default_rng(0)
    c1 = rng.integers(1, 4, size=5).astype(float)  # priorities (integers): maximised
    c2 = np.ones(5)  # accelerators used: minimised
    natural = [(c1, 0.0), (c2, 0.0)]
    signs = [-1.0, 1.0]
    weights = _lex_weights(natural, signs)
    assert weights is not None
    points = [np.array(p, dtype=float) for p in itertools.product([0, 1], repeat=5)]
    weighted = min(points, key=lambda p: sum(w * s * (c @ p) for w, s, (c, _) in zip(weights, signs, natural)))
    lexicographic = min(points, key=lambda p: (-(c1 @ p), c2 @ p))
    assert c1 @ weighted == c1 @ lexicographic
    assert c2 @ weighted == c2 @ lexicographic


def test_weights_are_refused_for_fractional_earlier_levels():
    """A non-integral earlier level cannot be weighted exactly: sequential solves are used instead."""
    natural = [(np.array([0.5, 1.25]), 0.0), (np.ones(2), 0.0)]
    assert _lex_weights(natural, [-1.0, 1.0]) is None


def test_primary_bound_from_a_weighted_bound_is_valid():
    """The weighted dual bound converts to a valid (rounded) bound on the primary level."""
    c1, c2 = np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0, 1.0])
    natural = [(c1, 0.0), (c2, 0.0)]
    signs = [-1.0, 1.0]
    weights = _lex_weights(natural, signs)
    # best weighted value: host 3 on 1 accelerator is impossible here; pretend the bound is -3W + 1
    lower = -3 * weights[0] + 1.0
    assert _primary_from_weighted(lower, weights, signs, natural, None) == pytest.approx(3.0)
    lower = -2.2 * weights[0]
    assert _primary_from_weighted(lower, weights, signs, natural, None) <= 3.0


@pytest.mark.parametrize(
    ("value", "objective", "integral", "expected"),
    [
        (57.9999999, Objective.MAX_HOSTED, True, 58.0),
        (58.48, Objective.MAX_HOSTED, True, 58.0),
        (3.2, Objective.MIN_ACCELERATORS, True, 4.0),
        (58.48, Objective.MAX_VALUE, False, 58.48),
    ],
)
def test_integral_objectives_round_their_bound_inwards(value, objective, integral, expected):
    """A bound on an integer-valued objective rounds towards the feasible side."""
    assert round_bound(value, objective.maximize, integral) == pytest.approx(expected)
