"""The seed authors' latency model, formula for formula, as their released code computes it.

Source: umassos/ibis (MIT), ``ibis/control_service/placement_algorithms_edgetpu.py`` and
``placement_algorithms_trt.py``. These are not optplace's latency model (``optplace/latency.py``,
which the evaluator uses); they exist so that the faithful baselines in
:mod:`optplace.heuristics.ibis` make the decisions the authors' code makes, down to floating-point
ties. Each function therefore keeps the authors' arithmetic: the same operations in the same order,
``numpy.sum`` where they use it (:func:`add_up`; its pairwise summation differs from a loop from 8
terms on) and a plain loop or ``sum`` where they do.

What differs from optplace's model, and is kept on purpose:

* edgeTPU (FCFS with model switches): the second moment of a class's service time is the square of
  its *mean* (s + p o)^2, not E[(s + B o)^2] with a Bernoulli switch B.
* GPU (processor sharing): the additive form R_i = s_i + 1/(mu - Lambda) - 1/mu with
  1/mu = sum(lambda_i s_i) / Lambda (the authors' Eq. 6/7), not s_i / (1 - rho).
* Front end: one M/M/1-like stage 1000 / (mu - lambda) per application, over that application's
  own rate only, with mu = 1000/20 per second on edgeTPU hosts and 1000/24 on GPU hosts (hard-coded,
  whatever an instance says), plus a hard-coded 10 ms network delay. Its delay is added to every
  class on the node when a new application is checked.
* The front-end occupancy limit: every class on the node must keep rate x (accelerator latency +
  front-end delay) below 0.8 x 1000 ms (the authors' ``FRONTEND_THRESHOLD``), i.e. fewer than 0.8
  requests of that class in flight, what a front end that sends one request at a time can carry.

Rates are in requests per second, service times in seconds where the authors keep seconds (``1 /
service_rate``) and milliseconds elsewhere, exactly as in their code.
"""

from __future__ import annotations

import math

import numpy as np

NETWORK_MS = 10.0  # the authors' hard-coded network latency
TPU_HOST_PREPROCESS_RATE = 1000.0 / 20.0  # front-end service rate on a Raspberry Pi (req/s)
GPU_HOST_PREPROCESS_RATE = 1000.0 / 24.0  # on a Jetson Nano
FRONTEND_THRESHOLD = 0.8  # the GPU module's value; the edgeTPU file's ``08`` is a Python 3 syntax error
FRONTEND_THRESHOLD_AS_8 = 8.0  # that literal read as 8 (the ``frontend_threshold_8`` quirk)


def add_up(values: list[float]) -> float:
    """``numpy.sum`` of a list, without its Python-level dispatch: the same pairwise summation."""
    return float(np.add.reduce(values))


def fcfs_response_times(
    service_s: list[float], switch_overhead_ms: list[float], rates: list[float]
) -> tuple[list[float], list[float]]:
    """edgeTPU: (response time in ms, utilisation) per class (``get_mg1_fcfs_response_time``)."""
    total_rate = add_up(rates)
    mean_ms = []
    for s, o, lam in zip(service_s, switch_overhead_ms, rates, strict=True):
        s = s * 1000
        mean_ms.append(s + (1 - lam / total_rate) * o)
    first = 0.0
    second = 0.0
    for lam, s in zip(rates, mean_ms, strict=True):
        first += lam / total_rate * s
        second += lam / total_rate * s**2
    rho = [lam * s / 1000 for lam, s in zip(rates, mean_ms, strict=True)]
    system_rho = add_up(rho)
    denominator = 2 * (1 - system_rho)
    waiting_ms = total_rate * second / denominator if denominator != 0 else math.inf  # numpy: inf, no error
    waiting_ms = waiting_ms / 1e3
    return [float(s + waiting_ms) for s in mean_ms], rho


def ps_response_times(service_s: list[float], rates: list[float]) -> tuple[list[float], list[float]]:
    """GPU: (response time in ms, utilisation) per class, additive PS (``get_mg1_ps_response_time``)."""
    total_rate = add_up(rates)
    mean_service = 0.0
    for s, lam in zip(service_s, rates, strict=True):
        mean_service += s * lam
    mean_service = mean_service / total_rate
    mu = 1 / mean_service
    queueing_s = (1 / (mu - total_rate) if mu != total_rate else math.inf) - (1 / mu)  # numpy: inf, no error
    response_ms = [float((queueing_s + s) * 1000) for s in service_s]
    rho = [s * lam for s, lam in zip(service_s, rates, strict=True)]
    return response_ms, rho


def frontend_delay(rate: float, service_rate: float) -> tuple[float, float]:
    """(utilisation, delay in ms) of an application's own front end (``get_mgc_ps_response_time``).

    Where the authors' code would divide by zero (rate equal to the front end's service rate), the
    delay is infinite, which every check rejects.
    """
    rho = rate / service_rate
    if rho == 1:
        return rho, math.inf
    return rho, 1 / rate * (rho / (1 - rho)) * 1000


def end_to_end_checks(
    backend_ms: list[float], rates: list[float], slos_ms: list[float], frontend_ms: float, threshold: float
) -> list[str]:
    """The last step of both ``is_node_feasible``: the occupancy limit and the SLO, for every class.

    Returns ``frontend_load`` and/or ``slo`` for what fails (the authors log both), else nothing.
    """
    frontend_process_ms = frontend_ms + NETWORK_MS
    served = [1000 / (bs + frontend_process_ms) if bs + frontend_process_ms != 0 else math.inf for bs in backend_ms]
    response = [bs + frontend_process_ms for bs in backend_ms]
    reasons = []
    if not all(lam < mu * threshold for mu, lam in zip(served, rates, strict=True)):
        reasons.append("frontend_load")
    if not all(r < slo for r, slo in zip(response, slos_ms, strict=True)):
        reasons.append("slo")
    return reasons
