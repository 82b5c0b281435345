"""optplace: place DNN inference applications on shared accelerators under latency SLOs.

The public entry point is :func:`optplace.solve`; instances are :class:`optplace.Instance`, read
with :func:`optplace.read` (alias :func:`optplace.load_instance`) or built with
:class:`optplace.InstanceBuilder`; results are :class:`optplace.SolveResult` (``.summary()``);
``solve(on_incumbent=..., log=...)`` reports progress as :class:`optplace.ProgressEvent`;
errors live in :mod:`optplace.exceptions`; :func:`optplace.calibrate` fits profiles from request
logs; :func:`optplace.replan` re-places a running cluster after :class:`optplace.Changes` with a
safe migration plan. Importing this package imports no solver.
"""

from __future__ import annotations

__version__ = "0.1.0"

from optplace.builder import InstanceBuilder
from optplace.domain import Instance, Objective
from optplace.evaluate import Evaluation, evaluate
from optplace.exceptions import (
    InstanceError,
    InvalidInputError,
    OptplaceError,
    OptplaceWarning,
    PlacementVerificationError,
)
from optplace.io import load_instance, read
from optplace.migration import Changes, ReplanResult, replan
from optplace.params import SolveParams
from optplace.progress import ProgressEvent
from optplace.result import SolveResult, Status, StopReason
from optplace.solve import solve


def __getattr__(name: str):
    # optplace.calibrate is imported on first use: it pulls in scipy.stats and the simulator.
    if name == "calibrate":
        from optplace.calibration import calibrate

        return calibrate
    raise AttributeError(f"module 'optplace' has no attribute {name!r}")


__all__ = [
    "Changes",
    "Evaluation",
    "Instance",
    "InstanceBuilder",
    "InstanceError",
    "InvalidInputError",
    "Objective",
    "OptplaceError",
    "OptplaceWarning",
    "PlacementVerificationError",
    "ProgressEvent",
    "ReplanResult",
    "SolveParams",
    "SolveResult",
    "Status",
    "StopReason",
    "__version__",
    "calibrate",
    "evaluate",
    "load_instance",
    "read",
    "replan",
    "solve",
]
