"""Latency models: textbook values, the cases they reduce to, and properties over random queues."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from optplace import latency

# --- textbook values -------------------------------------------------------------------------


def test_md1_textbook_value():
    """M/D/1 at rho 0.5 with s = 10 ms responds in 10 (2 - 0.5) / (2 * 0.5) = 15 ms."""
    assert latency.md1_response_ms(10.0, 0.5)[0] == pytest.approx(15.0)


def test_mm1_textbook_value():
    """M/M/1 at rho 0.5 with s = 10 ms responds in 10 / 0.5 = 20 ms."""
    assert latency.mm1_response_ms(10.0, 0.5)[0] == pytest.approx(20.0)


def test_single_class_queues_are_infinite_at_or_above_saturation():
    """M/D/1 and M/M/1 report infinite latency at rho >= 1 instead of a negative number."""
    assert np.all(np.isinf(latency.md1_response_ms([10.0, 10.0], [1.0, 1.5])))
    assert np.all(np.isinf(latency.mm1_response_ms([10.0, 10.0], [1.0, 1.5])))


def test_pollaczek_khinchine_with_exponential_service_is_mm1():
    """P-K with service SCV 1 (50 req/s, s = 10 ms) equals M/M/1: 20 ms."""
    result = latency.fcfs_latency([50.0], [10.0], [1.0])
    assert result.latency_ms[0] == pytest.approx(20.0)
    assert result.utilization == pytest.approx(0.5)


def test_pollaczek_khinchine_general_service():
    """P-K with SCV 0.5: W = lambda E[S^2] / (2 (1 - rho)) = 0.05 * 150 / 1 = 7.5 ms, R = 17.5 ms."""
    assert latency.fcfs_latency([50.0], [10.0], [0.5]).latency_ms[0] == pytest.approx(17.5)


def test_multiclass_fcfs_without_switches_by_hand():
    """Rates 20 and 10 req/s, s = 10 and 30 ms: rho 0.5, W = (0.02*100 + 0.01*900) / 1 = 11 ms."""
    result = latency.fcfs_latency([20.0, 10.0], [10.0, 30.0])
    assert result.utilization == pytest.approx(0.5)
    np.testing.assert_allclose(result.latency_ms, [21.0, 41.0])


def test_fcfs_switch_overhead_seed_and_bernoulli_by_hand():
    """Two equal classes (10 req/s, s = o = 10 ms): s' = 15, rho 0.3; seed E[S'^2] = 225, Bernoulli 250."""
    seed = latency.fcfs_latency([10.0, 10.0], [10.0, 10.0], 0.0, [10.0, 10.0], switch_variance="seed")
    bernoulli = latency.fcfs_latency([10.0, 10.0], [10.0, 10.0], 0.0, [10.0, 10.0], switch_variance="bernoulli")
    assert seed.utilization == pytest.approx(0.3)
    np.testing.assert_allclose(seed.latency_ms, 15.0 + 0.02 * 225.0 / 1.4)
    np.testing.assert_allclose(bernoulli.latency_ms, 15.0 + 0.02 * 250.0 / 1.4)


def test_fcfs_moments_switch_probability():
    """A class-i request pays the switch with probability 1 - lambda_i / Lambda."""
    moments = latency.fcfs_moments([30.0, 10.0], [10.0, 20.0], 0.0, [5.0, 7.0])
    np.testing.assert_allclose(moments.switch_probability, [0.25, 0.75])
    np.testing.assert_allclose(moments.mean_service_ms, [10.0 + 0.25 * 5.0, 20.0 + 0.75 * 7.0])


def test_unknown_switch_variance_is_rejected():
    """A misspelt switch model is an error that names the accepted ones."""
    with pytest.raises(ValueError, match="dependent"):
        latency.fcfs_moments([1.0], [1.0], switch_variance="exactish")


def test_ps_exact_and_additive_by_hand():
    """Rates 20 and 10 req/s, s = 10 and 30 ms, rho 0.5: exact s/(1-rho); additive s + S*rho/(1-rho)."""
    exact = latency.ps_latency([20.0, 10.0], [10.0, 30.0])
    additive = latency.ps_latency([20.0, 10.0], [10.0, 30.0], variant="additive")
    np.testing.assert_allclose(exact.latency_ms, [20.0, 60.0])
    mean_service = 500.0 / 30.0
    np.testing.assert_allclose(additive.latency_ms, [10.0 + mean_service, 30.0 + mean_service])


def test_ps_unknown_variant_is_rejected():
    """Only 'exact' and 'additive' processor-sharing models exist."""
    with pytest.raises(ValueError, match="variant"):
        latency.ps_latency([1.0], [1.0], variant="magic")


def test_frontend_stage_by_hand():
    """Pre-processing 20 and 10 ms at 10 and 20 req/s: rho 0.4 on one core, 0.2 on two."""
    one = latency.frontend_latency([10.0, 20.0], [20.0, 10.0], 1.0)
    two = latency.frontend_latency([10.0, 20.0], [20.0, 10.0], 2.0)
    assert one.utilization == pytest.approx(0.4)
    np.testing.assert_allclose(one.latency_ms, [20.0 / 0.6, 10.0 / 0.6])
    np.testing.assert_allclose(two.latency_ms, [20.0 / 0.8, 10.0 / 0.8])


def test_frontend_rejects_non_positive_cores():
    """Zero cores is misuse, not an unstable stage."""
    with pytest.raises(ValueError, match="cores"):
        latency.frontend_latency([1.0], [1.0], 0.0)


def test_frontend_unstable_keeps_zero_for_apps_without_preprocessing():
    """An overloaded front end is infinite for the apps that use it and zero for those that do not."""
    result = latency.frontend_latency([100.0, 5.0], [20.0, 0.0], 1.0)
    assert not result.stable
    assert math.isinf(result.latency_ms[0]) and result.latency_ms[1] == 0.0


def test_end_to_end_adds_the_stages():
    """R_e2e = R_pre + network + R_accelerator."""
    np.testing.assert_allclose(latency.end_to_end_ms([5.0, 0.0], 10.0, [20.0, 30.0]), [35.0, 40.0])


def test_merge_classes_sums_rates_in_first_seen_order():
    """Applications of one backend merge into one class whose rate is their sum."""
    keys, rates, index = latency.merge_classes(["a", "b", "a"], [1.0, 2.0, 3.0])
    assert keys == ["a", "b"]
    np.testing.assert_allclose(rates, [4.0, 2.0])
    assert index.tolist() == [0, 1, 0]


def test_merged_class_latency_equals_that_of_its_rate():
    """Sharing a backend is latency-neutral: two apps at 5 req/s behave as one class at 10 req/s."""
    _, rates, _ = latency.merge_classes(["m", "m", "x"], [5.0, 5.0, 3.0])
    merged = latency.fcfs_latency(rates, [10.0, 20.0], 0.0, [4.0, 6.0])
    direct = latency.fcfs_latency([10.0, 3.0], [10.0, 20.0], 0.0, [4.0, 6.0])
    np.testing.assert_allclose(merged.latency_ms, direct.latency_ms)


def _md1_wait_cdf(t: float, service: float, rho: float) -> float:
    """Erlang's exact M/D/1 waiting-time CDF: (1 - rho) sum_{k <= t/D} (lam (k D - t))^k / k! e^{-lam (k D - t)}."""
    lam = rho / service
    return (1.0 - rho) * sum(
        (lam * (k * service - t)) ** k / math.factorial(k) * math.exp(-lam * (k * service - t))
        for k in range(int(t / service) + 1)
    )


@pytest.mark.parametrize(("rho", "q"), [(0.3, 0.95), (0.6, 0.99), (0.8, 0.95), (0.8, 0.99), (0.832, 0.99), (0.9, 0.99)])
def test_md1_quantiles_match_erlangs_formula(rho, q):
    """One deterministic class: the v2 response quantile (no margin) is s plus Erlang's exact M/D/1 wait quantile."""
    service = 10.0
    queue = latency.switch_queue([rho * 1000.0 / service], [service])
    value = queue.quantile(0, q, margin=1.0)
    assert _md1_wait_cdf(value - service, service, rho) >= q - 2e-3
    assert _md1_wait_cdf(value - service - 0.02 * value, service, rho) < q


def test_mm1_quantile_is_the_exponential_one():
    """M/M/1 response time is exponential with rate mu - lambda: p95 = ln(20) / 0.05 ms at rho 0.5 (gamma grid path)."""
    queue = latency.switch_queue([50.0], [10.0], [1.0])
    assert queue.quantile(0, 0.95, margin=1.0) == pytest.approx(math.log(20.0) / 0.05, rel=0.01)


def test_quantile_applies_the_tail_margin():
    """The FCFS quantile reads the tail at (1 - q) / margin: margin 2 at q = 0.95 is the margin-1 quantile at 0.975."""
    queue = latency.switch_queue([8.0, 2.0], [20.0, 60.0], [0.0, 0.0], [20.0, 20.0])
    for i in range(2):
        assert queue.quantile(i, 0.95, margin=2.0) == pytest.approx(queue.quantile(i, 0.975, margin=1.0), rel=1e-12)
    with pytest.raises(ValueError, match="tail_margin"):
        latency.fcfs_quantile(0.95, [8.0, 2.0], [20.0, 60.0], 0.0, [20.0, 20.0], tail_margin=0.5)


def test_mean_wait_is_the_transforms_derivative():
    """E[W] from the identity with the exact idle split equals -d/dtheta of the stationary transform at 0."""
    rates, s, o = [40.0, 3.0], [4.91, 125.13], [10.43, 19.43]
    queue = latency.switch_queue(rates, s, 0.0, o)
    lam = sum(rates) / 1000.0
    p = [r / sum(rates) for r in rates]

    def transform(theta: float) -> float:
        d = [
            theta - lam + lam * pj * math.exp(-theta * sj) * (1 - math.exp(-theta * oj)) for pj, sj, oj in zip(p, s, o)
        ]
        u = [lam * pj * math.exp(-theta * sj) * math.exp(-theta * oj) for pj, sj, oj in zip(p, s, o)]
        return theta * sum(pi / dj for pi, dj in zip(queue.idle, d)) / (1.0 + sum(uj / dj for uj, dj in zip(u, d)))

    h = 1e-7
    assert (1.0 - transform(h)) / h == pytest.approx(queue.mean_wait_ms, rel=1e-3)
    assert sum(queue.idle) == pytest.approx(1.0 - queue.utilization, rel=1e-12)


def test_skewed_mix_tail_is_above_the_v1_model():
    """Dominant-model edgeTPU mix at rho 0.6: model v1's exponential tail sits below v2's p99 (the optimism fixed)."""
    rates = np.array([0.9, 0.1])
    s, o = np.array([4.91, 125.13]), np.array([10.43, 19.43])
    rates = rates * 0.6 / latency.fcfs_moments(rates, s, 0.0, o).utilization
    v1 = latency.fcfs_quantile_v1(0.99, rates, s, 0.0, o).latency_ms
    v2 = latency.fcfs_quantile(0.99, rates, s, 0.0, o).latency_ms
    assert np.all(v2 > v1)


def test_dependent_mean_agrees_with_simulation_where_pollaczek_khinchine_does_not():
    """Skewed two-model edgeTPU mix at rho 0.8: P-K is 8-11% low, the exact (dependent, v2) mean within 1% of simulation.

    The simulated means (130.9 and 187.4 ms, standard error 0.3 ms) come from 4 x 5 million
    requests of ``optplace.simulation.fcfs_departures`` (seeds 100-103); the short simulation in
    tests/test_simulate.py checks the same queue.
    """
    rates = np.array([0.85, 0.15])
    s, o = np.array([19.23, 62.95]), np.array([24.63, 19.39])
    rates = rates * 0.8 / latency.fcfs_moments(rates, s, 0.0, o).utilization
    simulated = np.array([130.9, 187.4])
    pk = latency.fcfs_latency(rates, s, 0.0, o, switch_variance="bernoulli").latency_ms
    dependent = latency.fcfs_latency(rates, s, 0.0, o).latency_ms
    assert pk[0] < 0.9 * simulated[0] and pk[1] < 0.95 * simulated[1]
    np.testing.assert_allclose(dependent, simulated, rtol=0.01)


# --- properties --------------------------------------------------------------------------------

services = st.lists(st.floats(1.0, 150.0), min_size=1, max_size=5)


@st.composite
def queues(draw, max_utilization: float = 0.95):
    """A random multi-class queue: rates (req/s), service and switch times (ms), SCVs, at a target load."""
    s = np.array(draw(services))
    n = s.size
    shares = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n)))
    o = np.array(draw(st.lists(st.floats(0.0, 30.0), min_size=n, max_size=n)))
    scv = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]), min_size=n, max_size=n)))
    target = draw(st.floats(0.02, max_utilization))
    base = latency.fcfs_moments(shares, s, scv, o).utilization
    return shares * target / base, s, scv, o


@settings(max_examples=80, deadline=None)
@given(queues(), st.floats(1.05, 3.0))
def test_fcfs_latency_is_monotone_in_load(queue, factor):
    """Scaling every rate up (same mix) never lowers any class's latency, in every switch model."""
    rates, s, scv, o = queue
    for variant in ("seed", "bernoulli", "dependent"):
        low = latency.fcfs_latency(rates, s, scv, o, switch_variance=variant)
        high = latency.fcfs_latency(rates * factor, s, scv, o, switch_variance=variant)
        assert np.all(high.latency_ms >= low.latency_ms - 1e-9)
        assert high.utilization > low.utilization


@settings(max_examples=80, deadline=None)
@given(queues(), st.floats(1.05, 3.0))
def test_ps_and_frontend_are_monotone_in_load(queue, factor):
    """Processor sharing (both variants) and the front end slow down as load grows."""
    rates, s, _, _ = queue
    for variant in ("exact", "additive"):
        low = latency.ps_latency(rates, s, variant=variant).latency_ms
        high = latency.ps_latency(rates * factor, s, variant=variant).latency_ms
        assert np.all(high >= low - 1e-9)
    low = latency.frontend_latency(rates, s, 2.0).latency_ms
    high = latency.frontend_latency(rates * factor, s, 2.0).latency_ms
    assert np.all(high >= low - 1e-9)


@settings(max_examples=80, deadline=None)
@given(st.floats(0.5, 200.0), st.floats(0.01, 0.99), st.floats(0.0, 50.0))
def test_one_class_fcfs_reduces_to_md1(service, rho, switch):
    """With one class no switch ever happens: every FCFS variant is M/D/1, and the PS models agree."""
    rate = rho * 1000.0 / service
    md1 = latency.md1_response_ms(service, rho)[0]
    for variant in ("seed", "bernoulli", "dependent"):
        result = latency.fcfs_latency([rate], [service], 0.0, [switch], switch_variance=variant)
        assert result.latency_ms[0] == pytest.approx(md1, rel=1e-9)
    exact = latency.ps_latency([rate], [service]).latency_ms[0]
    additive = latency.ps_latency([rate], [service], variant="additive").latency_ms[0]
    assert exact == pytest.approx(additive, rel=1e-9)
    assert exact == pytest.approx(latency.mm1_response_ms(service, rho)[0], rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(queues(), st.floats(1.001, 2.0))
def test_unstable_queues_report_infinite_latency(queue, overload):
    """At utilisation >= 1 every model reports stable=False and infinite latency."""
    rates, s, scv, o = queue
    util = latency.fcfs_moments(rates, s, scv, o).utilization
    rates = rates * overload / util
    for variant in ("seed", "bernoulli", "dependent"):
        result = latency.fcfs_latency(rates, s, scv, o, switch_variance=variant)
        assert not result.stable and np.all(np.isinf(result.latency_ms))
    quantile = latency.fcfs_quantile(0.95, rates, s, scv, o)
    assert not quantile.stable and np.all(np.isinf(quantile.latency_ms))
    ps_rates = rates * overload * 1000.0 / float(np.dot(rates, s))
    for variant in ("exact", "additive"):
        result = latency.ps_latency(ps_rates, s, variant=variant)
        assert not result.stable and np.all(np.isinf(result.latency_ms))
        assert np.all(np.isinf(latency.ps_quantile(0.99, ps_rates, s, variant=variant).latency_ms))
    assert not latency.frontend_latency(ps_rates, s, 1.0).stable


@settings(max_examples=80, deadline=None)
@given(queues())
def test_ps_exact_satisfies_littles_law_for_the_whole_queue(queue):
    """Little's law: sum_i lambda_i R_i = E[N] = rho / (1 - rho), the insensitive M/G/1-PS occupancy."""
    rates, s, _, _ = queue
    result = latency.ps_latency(rates, s)
    assume(result.utilization < 0.99)
    occupancy = float(np.dot(rates / 1000.0, result.latency_ms))
    rho = result.utilization
    assert occupancy == pytest.approx(rho / (1.0 - rho), rel=1e-9)


@settings(max_examples=80, deadline=None)
@given(queues())
def test_fcfs_without_switches_matches_the_aggregate_mg1(queue):
    """Little's law across classes: the rate-weighted mean response equals one M/G/1 with the mixed service."""
    rates, s, scv, _ = queue
    result = latency.fcfs_latency(rates, s, scv)
    share = rates / rates.sum()
    mean = float(np.dot(share, s))
    second = float(np.dot(share, s * s * (1.0 + scv)))
    aggregate = latency.fcfs_latency([rates.sum()], [mean], [second / mean**2 - 1.0])
    assert float(np.dot(share, result.latency_ms)) == pytest.approx(aggregate.latency_ms[0], rel=1e-9)


@settings(max_examples=80, deadline=None)
@given(queues())
def test_dependence_identity_is_consistent(queue):
    """Idle probabilities sum to 1 - rho and the conditional waits average to the mean wait."""
    rates, s, scv, o = queue
    dep = latency.fcfs_dependence(rates, s, scv, o)
    share = rates / rates.sum()
    assert float(dep.idle_probability.sum()) == pytest.approx(1.0 - dep.utilization, abs=1e-12)
    assert float(np.dot(share, dep.conditional_wait_ms)) == pytest.approx(dep.mean_wait_ms, rel=1e-6, abs=1e-9)
    assert dep.mean_wait_ms >= 0.0
    no_switch = latency.fcfs_moments(rates, s, scv, 0.0, switch_variance="dependent")
    pk = latency.fcfs_moments(rates, s, scv, 0.0, switch_variance="bernoulli")
    assert no_switch.mean_wait_ms == pytest.approx(pk.mean_wait_ms, rel=1e-9)


def test_a_negligible_switch_beside_switch_free_classes_keeps_the_idle_split_exact():
    """A 6e-8 ms switch next to switch-free classes (found by hypothesis) must not unbalance the idle split."""
    rates = np.array([0.8184523805541478, 0.4092261902770739, 0.20461309513853695])
    s, scv, o = np.array([1.0, 50.0, 1.0]), np.zeros(3), np.array([0.0, 0.0, 5.960464477539063e-08])
    dep = latency.fcfs_dependence(rates, s, scv, o)
    assert float(dep.idle_probability.sum()) == pytest.approx(1.0 - dep.utilization, abs=1e-12)
    none = latency.fcfs_dependence(rates, s, scv, np.zeros(3))
    assert dep.mean_wait_ms == pytest.approx(none.mean_wait_ms, rel=1e-7)


@settings(max_examples=60, deadline=None)
@given(queues(max_utilization=0.9), st.sampled_from([0.9, 0.95, 0.99]))
def test_high_percentiles_are_at_least_the_service_and_ordered(queue, q):
    """Quantiles never fall below the service time, grow with q, and p99 beats the mean once queues form."""
    rates, s, scv, o = queue
    util = latency.fcfs_moments(rates, s, scv, o).utilization
    mean = latency.fcfs_latency(rates, s, scv, o).latency_ms
    low = latency.fcfs_quantile(q, rates, s, scv, o).latency_ms
    high = latency.fcfs_quantile(min(q + 0.005, 0.999), rates, s, scv, o).latency_ms
    assert np.all(high >= low - 1e-9)
    if np.all(scv == 0):
        assert np.all(low >= s - 1e-9)
    ps = latency.ps_quantile(q, rates, s)
    ps_mean = latency.ps_latency(rates, s)
    if ps.stable:
        assert np.all(ps.latency_ms >= s - 1e-9)
        if ps_mean.utilization >= 0.1 and q >= 0.95:
            assert np.all(ps.latency_ms >= ps_mean.latency_ms - 1e-9)
    if util >= 0.1:
        p99 = latency.fcfs_quantile(0.99, rates, s, scv, o).latency_ms
        assert np.all(p99 >= mean - 1e-9)


@settings(max_examples=80, deadline=None)
@given(queues())
def test_wait_bounds_bracket_the_exact_wait(queue):
    """The probe's O(n) bounds hold the exact mean wait between them."""
    rates, s, scv, o = queue
    utilization, lower, upper = latency.switch_wait_bounds(list(rates), list(s), list(scv), list(o))
    exact = latency.switch_queue(rates, s, scv, o)
    assert utilization == pytest.approx(exact.utilization, rel=1e-12)
    if exact.stable:
        assert lower <= exact.mean_wait_ms * (1 + 1e-9) + 1e-12
        assert exact.mean_wait_ms <= upper * (1 + 1e-9) + 1e-12


@settings(max_examples=40, deadline=None)
@given(queues(max_utilization=0.9))
def test_fcfs_tail_is_a_tail(queue):
    """P(R_i > t) is 1 below the service time (deterministic), within [0, 1], and never increases in t."""
    rates, s, _, o = queue
    q = latency.switch_queue(rates, s, 0.0, o)
    assume(q.stable)
    for i in range(q.n):
        ts = np.linspace(0.0, 3.0 * q.quantile(i, 0.99), 60)
        values = np.array([q.tail(i, float(t)) for t in ts])
        assert np.all((values >= 0.0) & (values <= 1.0))
        assert np.all(np.diff(values) <= 1e-12)
        assert np.allclose(values[ts < s[i]], 1.0, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(queues(max_utilization=0.8))
def test_closed_form_tail_agrees_with_the_grid_iteration(queue):
    """Deterministic service, utilisation <= 0.8: two closed-form Lindley steps are never more than 2% below the grid iteration.

    Above 0.8 the grid is no reference: its discretisation bias grows with the load (one M/D/1 class
    at 0.832 reads 2.8% above Erlang's exact p99, which the closed form matches; see
    test_md1_quantiles_match_erlangs_formula), so the comparison stops at the default cap.
    """
    rates, s, _, o = queue
    q = latency.switch_queue(rates, s, 0.0, o)
    assume(q.stable)
    grid = latency._SwitchTailGrid(q)
    for i in range(q.n):
        closed, iterated = q.quantile(i, 0.99, margin=1.0), grid.quantile(i, 0.01)
        assert iterated <= 1.02 * closed + 2 * grid.step
        assert closed <= 1.10 * iterated + 2 * grid.step


def test_ps_quantile_closed_form():
    """Deterministic PS size: the v2 p99 is s (1 + ln(0.01) / ln(rho)), 10 (1 + 6.64) = 76.4 ms at rho 0.5."""
    result = latency.ps_quantile(0.99, [25.0, 25.0], [10.0, 10.0])
    np.testing.assert_allclose(result.latency_ms, 10.0 * (1.0 + math.log(0.01) / math.log(0.5)))
    assert latency.frontend_quantile(0.99, [50.0], [10.0], 1.0).latency_ms[0] == pytest.approx(result.latency_ms[0])


@pytest.mark.parametrize("scv", [0.3, 1.0, 2.0])
def test_ps_tail_integrates_the_size_law(scv):
    """The gamma PS tail equals E[min(1, rho^(t/X - 1))] by adaptive quadrature."""
    from scipy import integrate, stats

    s, rho, t = 20.0, 0.6, 75.0
    law = stats.gamma(1.0 / scv, scale=s * scv)
    reference = law.sf(t) + integrate.quad(lambda x: law.pdf(x) * rho ** (t / x - 1.0), 0.0, t, limit=200)[0]
    assert latency.ps_tail(t, s, scv, rho) == pytest.approx(reference, rel=1e-5)


def test_multicore_ps_reduces_to_ps_on_one_core():
    """On one core the c-core PS mean is s / (1 - rho), like the front-end formula and PS exact."""
    one = latency.multicore_ps_latency([10.0, 20.0], [20.0, 10.0], 1.0)
    np.testing.assert_allclose(one.latency_ms, latency.frontend_latency([10.0, 20.0], [20.0, 10.0], 1.0).latency_ms)


def test_multicore_ps_matches_erlang_c_on_two_cores():
    """Two cores, offered load 1 (rho 0.5): Erlang C = 1/3, so R = s (1 + (1/3) / (2 * 0.5)) = 4 s / 3."""
    result = latency.multicore_ps_latency([50.0], [20.0], 2.0)
    assert result.utilization == pytest.approx(0.5)
    assert result.latency_ms[0] == pytest.approx(20.0 * 4.0 / 3.0)


def test_multicore_ps_on_half_a_core_is_slower_than_the_pooled_formula():
    """Half a core serves a lone 20 ms request in 40 ms: R = s / (c (1 - rho)), twice the pooled formula."""
    result = latency.multicore_ps_latency([10.0], [20.0], 0.5)
    assert result.latency_ms[0] == pytest.approx(20.0 / (0.5 * 0.6))
    assert result.latency_ms[0] == pytest.approx(2.0 * latency.frontend_latency([10.0], [20.0], 0.5).latency_ms[0])


@settings(max_examples=80, deadline=None)
@given(queues(max_utilization=0.95), st.sampled_from([1.0, 1.5, 2.0, 4.0, 8.0]))
def test_multicore_ps_lies_between_the_lone_time_and_the_pooled_formula(queue, cores):
    """With at least one core the exact mean is at least s and at most the conservative pooled s / (1 - rho)."""
    rates, s, _, _ = queue
    rates = rates * cores  # keep the per-core utilisation below 1
    exact = latency.multicore_ps_latency(rates, s, cores)
    pooled = latency.frontend_latency(rates, s, cores)
    assume(exact.stable)
    assert np.all(exact.latency_ms >= s - 1e-9)
    assert np.all(exact.latency_ms <= pooled.latency_ms + 1e-9)
    assert np.all(latency.multicore_ps_quantile(0.99, rates, s, cores).latency_ms >= s - 1e-9)


@settings(max_examples=40, deadline=None)
@given(st.floats(1.0, 100.0), st.sampled_from([0.0, 0.0, 0.3, 1.0]), st.sampled_from([0.95, 0.99]))
def test_one_class_fcfs_percentile_grows_with_load(service, scv, q):
    """One class: the v2 percentile never falls as the load grows (the formulations' thresholds rely on it)."""
    loads = np.linspace(0.02, 0.9, 12)
    values = [latency.switch_queue([rho * 1000.0 / service], [service], [scv]).quantile(0, q) for rho in loads]
    assert np.all(np.diff(values) >= -1e-9 * np.max(values))


@settings(max_examples=60, deadline=None)
@given(st.floats(1.0, 100.0), st.sampled_from([0.0, 0.5, 2.0]), st.floats(0.01, 0.9), st.floats(1.01, 1.5))
def test_ps_percentile_grows_with_load_and_rate(service, scv, rho, factor):
    """The PS percentile grows with the utilisation and with the total rate (the no-overlap term)."""
    lam = rho / service
    base = latency.ps_request_quantile(0.95, service, scv, rho, lam)
    assert latency.ps_request_quantile(0.95, service, scv, min(rho * factor, 0.99), lam) >= base - 1e-9
    assert latency.ps_request_quantile(0.95, service, scv, rho, lam * factor) >= base - 1e-9


@pytest.mark.parametrize(("scv", "rho"), [(0.0, 0.03), (1.0, 0.05), (2.0, 0.5)])
def test_ps_percentile_is_above_a_short_simulation(scv, rho):
    """One PS class at very low load or with variable sizes: the v2 p95 / p99 are at least the simulated ones."""
    from optplace.simulation import ps_departures

    rng = np.random.default_rng(int(10 * scv + 100 * rho))
    n, s = 200_000, 10.0
    arrival = np.cumsum(rng.exponential(s / rho, n))
    size = s * (rng.gamma(1.0 / scv, scv, n) if scv > 0 else np.ones(n))
    response = (ps_departures(arrival, size) - arrival)[n // 10 :]
    for q in (0.95, 0.99):
        predicted = latency.ps_quantile(q, [rho * 1000.0 / s], [s], [scv]).latency_ms[0]
        assert predicted >= 0.98 * np.quantile(response, q)
