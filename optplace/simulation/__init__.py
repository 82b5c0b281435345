"""Discrete-event simulation of placed clusters, to check the analytic latency models.

``simulate(instance, placement, ...)`` returns a :class:`SimulationReport`; the station
functions (:func:`fcfs_departures`, :func:`ps_departures`) are usable on their own;
:func:`check_by_simulation` judges every hosted SLO of a placement (``verify="simulate"``). The design,
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
from optplace.simulation.guard import ApplicationCheck, SimulationCheck, Verdict, check_by_simulation, judge
from optplace.simulation.stations import FcfsRun, fcfs_departures, ps_departures
from optplace.simulation.statistics import Estimate, batch_estimate

__all__ = [
    "ARRIVAL_KINDS",
    "AcceleratorRequests",
    "AcceleratorSimulation",
    "ApplicationCheck",
    "ApplicationSimulation",
    "ArrivalProcess",
    "Estimate",
    "FcfsRun",
    "NodeSimulation",
    "SimulationCheck",
    "SimulationReport",
    "Verdict",
    "arrival_times_ms",
    "batch_estimate",
    "check_by_simulation",
    "fcfs_departures",
    "judge",
    "load_trace",
    "ps_departures",
    "simulate",
]
