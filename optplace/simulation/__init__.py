"""Discrete-event simulation of placed clusters, to check the analytic latency models.

``simulate(instance, placement, ...)`` returns a :class:`SimulationReport`; the station
functions (:func:`fcfs_departures`, :func:`ps_departures`) are usable on their own. The design,
its checks against the analytic models and its throughput are in ``docs/validation.md``.
"""

from optplace.simulation.arrivals import ARRIVAL_KINDS, ArrivalProcess, arrival_times_ms, load_trace
from optplace.simulation.core import (
    AcceleratorRequests,
    AcceleratorSimulation,
    ApplicationSimulation,
    NodeSimulation,
    SimulationReport,
    simulate,
)
from optplace.simulation.stations import FcfsRun, fcfs_departures, ps_departures
from optplace.simulation.statistics import Estimate, batch_estimate

__all__ = [
    "ARRIVAL_KINDS",
    "AcceleratorRequests",
    "AcceleratorSimulation",
    "ApplicationSimulation",
    "ArrivalProcess",
    "Estimate",
    "FcfsRun",
    "NodeSimulation",
    "SimulationReport",
    "arrival_times_ms",
    "batch_estimate",
    "fcfs_departures",
    "load_trace",
    "ps_departures",
    "simulate",
]
