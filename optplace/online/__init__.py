"""The online experiment: replay arrivals, departures and rate changes under placement policies.

:mod:`~optplace.online.timeline` builds timelines (the seed's workload, the Azure and Alibaba
traces), :mod:`~optplace.online.policies` holds the seed's greedy and migration loop and the
re-planning policy, :mod:`~optplace.online.driver` replays a timeline under a policy and judges
every step by simulation. ``benchmarks/online_loop.py`` runs the comparison.
"""

from optplace.online.driver import RunResult, StepRecord, run
from optplace.online.policies import Decision, GreedyArrivals, Policy, Replanning, SeedLoop, View
from optplace.online.timeline import Demand, Timeline, alibaba_timeline, azure_timeline, seed_timeline

__all__ = [
    "Decision",
    "Demand",
    "GreedyArrivals",
    "Policy",
    "Replanning",
    "RunResult",
    "SeedLoop",
    "StepRecord",
    "Timeline",
    "View",
    "alibaba_timeline",
    "azure_timeline",
    "run",
    "seed_timeline",
]
