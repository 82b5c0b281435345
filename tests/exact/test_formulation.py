"""The assignment formulation against brute force: conservative never violates, relaxed never cuts."""

from __future__ import annotations

import numpy as np
import pytest

from optplace.backends import highs
from optplace.backends.common import SolverSettings
from optplace.domain import Objective
from optplace.evaluate import evaluate
from optplace.formulations.assignment.build import BuildOptions, build, symmetry_groups
from optplace.formulations.assignment.data import prepare
from optplace.formulations.assignment.solution import canonicalize, encode, extract
from optplace.generate import generate_instance
from tests.conftest import INSTANCES
from tests.exact.conftest import brute_force, load_json, primary_of, random_instance

TINY_DIR = INSTANCES / "tiny"

SEEDS = [(seed, False) for seed in range(8)] + [(seed, True) for seed in range(100, 104)]


def _optimum(am, objective: Objective, maximize: bool) -> tuple[float | None, np.ndarray | None]:
    c, const = am.objective(objective)
    result = highs.solve(am.model.with_objective(c, const, maximize), SolverSettings(time_limit_s=30, threads=1))
    return result.objective, result.values


@pytest.mark.parametrize(("seed", "shared"), SEEDS)
def test_conservative_solutions_are_feasible_and_relaxed_bounds_are_valid(seed: int, shared: bool):
    """Conservative optimum <= true optimum <= relaxed optimum, and the conservative placement verifies."""
    instance = random_instance(seed, n_apps=3, shared_node=shared)
    _, truth, conservative, _, low = _sound(instance)
    if conservative.exact:
        assert low == pytest.approx(truth)


def _sound(instance):
    """Brute force, both models and their optima: conservative optimum <= truth <= relaxed optimum, and the
    conservative placement verifies. Returns (best placement, truth, conservative, relaxed, conservative optimum)."""
    best, key = brute_force(instance)
    truth = primary_of(instance, key)
    data = prepare(instance)
    conservative = build(data, BuildOptions(mode="conservative"))
    relaxed = build(data, BuildOptions(mode="relaxed"))
    low, values = _optimum(conservative, Objective.MAX_HOSTED, True)
    high, _ = _optimum(relaxed, Objective.MAX_HOSTED, True)
    assert evaluate(instance, extract(conservative, values)).feasible
    assert low <= truth + 1e-6
    assert high >= truth - 1e-6
    return best, truth, conservative, relaxed, low


@pytest.mark.parametrize(("seed", "shared"), SEEDS[:6])
def test_the_true_optimum_is_a_relaxed_solution(seed: int, shared: bool):
    """The brute-force optimal placement can be written into the relaxed model (it cuts nothing off)."""
    instance = random_instance(seed, n_apps=3, shared_node=shared)
    best, _ = brute_force(instance)
    data = prepare(instance)
    relaxed = build(data, BuildOptions(mode="relaxed"))
    vector, why = encode(relaxed, canonicalize(data, best, symmetry_groups(data)))
    assert vector is not None, why


def _switching(instance, placement) -> bool:
    """Does some FCFS accelerator run two or more backends that pay a switch overhead?"""
    evaluation = evaluate(instance, placement)
    models = instance.model_map()
    for acc in evaluation.accelerators:
        if (
            acc.discipline.value == "fcfs"
            and len(acc.backends) > 1
            and any(models[b.split("@")[0]].profiles[acc.type].switch_overhead_ms > 0 for b in acc.backends)
        ):
            return True
    return False


@pytest.mark.parametrize("seed", range(8))
def test_the_reference_is_representable(seed: int):
    """A feasible reference is a solution of the conservative model built around it.

    The one exception (model.md): the tightest member of a switching FCFS device is charged its own
    switch in full, so a reference that relies on a smaller own-switch probability may fall out.
    """
    instance = random_instance(seed, n_apps=4)
    best, _ = brute_force(instance)
    data = prepare(instance)
    reference = canonicalize(data, best, symmetry_groups(data))
    am = build(data, BuildOptions(reference=reference))
    vector, why = encode(am, reference)
    if _switching(instance, reference):
        return
    assert vector is not None, why
    assert extract(am, vector) == reference


@pytest.mark.parametrize("seed", range(4))
def test_objective_vectors_match_the_evaluator(seed: int):
    """Every objective's coefficients give the evaluator's value on an encoded placement."""
    instance = random_instance(seed, n_apps=4)
    best, _ = brute_force(instance)
    data = prepare(instance)
    reference = canonicalize(data, best, symmetry_groups(data))
    am = build(data, BuildOptions(reference=reference))
    vector = np.zeros(am.model.num_vars)
    lookup = data.pair_lookup()
    for app, acc in reference.items():
        vector[am.x[lookup[(data.app_index[app], data.acc_index[acc])]]] = 1.0
        vector[am.y[data.acc_index[acc]]] = 1.0
    values = evaluate(instance, reference).objectives
    for objective in Objective:
        c, const = am.objective(objective)
        assert float(c @ vector + const) == pytest.approx(values[objective.value])


def test_processor_sharing_without_extras_is_exact():
    """Exact PS with mean SLOs and no pre-processing needs no approximation at all."""
    instance = generate_instance("hetero", 30, None, 0, hosts={"nano": 1.0}, preprocess_ms=0)
    am = build(prepare(instance), BuildOptions())
    assert am.exact
    assert am.approximations == []


def test_approximations_are_named():
    """Switch overhead and front-end delay are approximations, and the model says so."""
    instance = generate_instance("hetero", 30, None, 0)
    am = build(prepare(instance), BuildOptions())
    assert not am.exact
    assert any("switch" in a for a in am.approximations)
    assert any("front-end" in a for a in am.approximations)


def test_level_merging_keeps_conservative_values():
    """With fewer levels than distinct slacks, each level takes its tightest member's value."""
    instance = generate_instance("very-tight", 40, None, 0, hosts={"nano": 1.0}, preprocess_ms=0)
    am = build(prepare(instance), BuildOptions(max_levels=3))
    assert "distinct slacks merged into levels" in am.approximations
    for acc in am.accelerators.values():
        for mode in acc.modes:
            for chain in mode.chains:
                assert chain.values.size <= 3 + 1
                own = chain.values[chain.level_of]
                assert np.all(own <= chain.values.max())


def test_symmetry_groups_are_identical_single_accelerator_nodes():
    """Identical Jetson nodes form one group; accelerators named by applications are left out."""
    instance = generate_instance("hetero", 30, None, 0, hosts={"nano": 1.0}, preprocess_ms=0)
    groups = symmetry_groups(prepare(instance))
    assert len(groups) == 1
    assert len(groups[0]) == len(instance.accelerators())


@pytest.mark.parametrize(("seed", "shared"), SEEDS[:8])
def test_lagrangian_bound_is_valid(seed: int, shared: bool):
    """The Lagrangian bound on weighted hosted applications is never below the true optimum."""
    from optplace.formulations.assignment.lagrangian import lagrangian_bound

    instance = random_instance(seed, n_apps=3, shared_node=shared)
    _, key = brute_force(instance)
    truth = primary_of(instance, key)
    relaxed = build(prepare(instance), BuildOptions(mode="relaxed"))
    c, _ = relaxed.objective(Objective.MAX_HOSTED)
    bound, _ = lagrangian_bound(relaxed, c[relaxed.x], truth, time_limit_s=10)
    assert bound >= truth - 1e-6


@pytest.mark.parametrize("seed", range(12))
def test_extensions_keep_both_models_sound(seed: int):
    """With co-compilation, occupancy limits, max_backends and switch variants: conservative optimum <= truth
    <= relaxed and Lagrangian bounds, the conservative placement verifies, and the optimum fits the relaxed model."""
    from optplace.formulations.assignment.lagrangian import lagrangian_bound

    instance = random_instance(seed, n_apps=4, extensions=True)
    best, truth, _, relaxed, _ = _sound(instance)
    data = relaxed.data
    vector, why = encode(relaxed, canonicalize(data, best, symmetry_groups(data)))
    assert vector is not None, why
    c, _ = relaxed.objective(Objective.MAX_HOSTED)
    bound, _ = lagrangian_bound(relaxed, c[relaxed.x], truth, time_limit_s=10)
    assert bound >= truth - 1e-6


def test_a_cocompiled_reference_is_a_conservative_solution():
    """The conservative model runs the group's regime: the co-compiled optimum of cocompile.json is representable
    and optimal there, although compiled apart that pair misses its SLO."""
    instance = load_json(TINY_DIR / "cocompile.json")
    data = prepare(instance)
    reference = {"a1": "tpu1", "b1": "tpu1", "c1": "tpu2", "c2": "tpu2"}
    am = build(data, BuildOptions(reference=reference))
    vector, why = encode(am, reference)
    assert vector is not None, why
    groups = {mode.group for acc in am.accelerators.values() for mode in acc.modes}
    assert groups == {-1, 0}
    best, _ = _optimum(am, Objective.MAX_HOSTED, True)
    assert best == pytest.approx(4.0)
    without = build(prepare(instance.model_copy(update={"cocompilation_groups": []})), BuildOptions())
    assert _optimum(without, Objective.MAX_HOSTED, True)[0] == pytest.approx(3.0)
