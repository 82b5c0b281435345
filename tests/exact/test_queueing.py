"""The inversions the formulation linearises agree with the evaluator's latency model (v2)."""

from __future__ import annotations

import numpy as np
import pytest

from optplace import latency
from optplace.formulations.assignment import queueing


def test_ps_thresholds_bracket_the_v2_latency():
    """Mean: the threshold is exact. Percentile (SCV 0 or 1): the conservative threshold meets the budget, and
    above the relaxed one the budget is missed, whatever the class's rate."""
    s = np.array([10.0, 10.0, 30.0, 30.0])
    budget = np.array([50.0, 50.0, 200.0, 200.0])
    q = np.array([np.nan, 0.95, 0.99, 0.99])
    scv = np.array([0.0, 0.0, 0.0, 1.0])
    conservative = queueing.ps_threshold(s, budget, q, scv, cap=0.95)
    relaxed = queueing.ps_threshold(s, budget, q, scv, cap=0.95, relaxed=True)

    def latency_at(k: int, rho: float) -> float:
        rate = rho * 1000.0 / s[k]
        if np.isnan(q[k]):
            return float(latency.ps_latency([rate], [s[k]]).latency_ms[0])
        return float(latency.ps_quantile(q[k], [rate], [s[k]], [scv[k]]).latency_ms[0])

    assert conservative[0] == relaxed[0]
    for k in range(4):
        assert relaxed[k] >= conservative[k]
        assert latency_at(k, conservative[k]) <= budget[k] * (1 + 1e-9)
        if relaxed[k] < 0.95:
            assert latency_at(k, relaxed[k] + 1e-6) > budget[k]


def test_fcfs_single_threshold_matches_md1_and_quantiles():
    """For one class, the FCFS threshold meets the mean (M/D/1) or v2 quantile budget at its edge."""
    s = np.array([20.0, 20.0, 20.0])
    scv = np.array([0.0, 0.0, 0.2])
    second = s * s * (1.0 + scv)
    q = np.array([np.nan, 0.95, 0.95])
    budget = np.array([45.0, 120.0, 120.0])
    rho = queueing.fcfs_single_threshold(s, second, budget, q, scv, cap=0.9)
    mean = latency.fcfs_latency([rho[0] * 1000 / 20.0], [20.0]).latency_ms[0]
    assert mean == pytest.approx(45.0, rel=1e-9)
    for k in (1, 2):
        pct = latency.fcfs_quantile(0.95, [rho[k] * 1000 / 20.0], [20.0], [scv[k]]).latency_ms[0]
        assert pct <= 120.0 * (1 + 1e-9)
        over = latency.fcfs_quantile(0.95, [(rho[k] + 1e-3) * 1000 / 20.0], [20.0], [scv[k]]).latency_ms[0]
        assert over > 120.0


def test_frontend_delay_matches_the_frontend_stage():
    """Front-end delay at a load equals latency.frontend_latency / frontend_quantile at that load."""
    p = np.array([20.0, 20.0])
    q = np.array([np.nan, 0.99])
    load = 0.3
    rate = load * 1000.0 / 20.0
    got = queueing.frontend_delay_ms(p, load, q)
    assert got[0] == pytest.approx(latency.frontend_latency([rate], [20.0]).latency_ms[0])
    assert got[1] == pytest.approx(latency.frontend_quantile(0.99, [rate], [20.0]).latency_ms[0])


def test_unreachable_budgets_give_no_threshold():
    """A budget below the bare service time admits no utilisation at all."""
    for relaxed in (False, True):
        rho = queueing.ps_threshold(
            np.array([30.0]), np.array([20.0]), np.array([0.95]), np.array([0.0]), cap=0.8, relaxed=relaxed
        )
        assert rho[0] == -np.inf
    rho = queueing.fcfs_single_threshold(
        np.array([30.0]), np.array([900.0]), np.array([20.0]), np.array([0.95]), np.array([0.0]), cap=0.8
    )
    assert rho[0] == -np.inf
