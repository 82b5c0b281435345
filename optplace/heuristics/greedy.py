"""The seed's model-driven greedy placement, one application at a time in arrival order."""

from __future__ import annotations

from optplace.domain import Instance
from optplace.heuristics.state import ClusterState
from optplace.params import SolveParams
from optplace.registry import MethodOutput, register
from optplace.result import Status


def finish(state: ClusterState, stats: dict | None = None) -> MethodOutput:
    """Wrap a heuristic's final state; under ``host_all`` a partial placement is no solution."""
    placement = state.placement()
    if state.instance.host_all and len(placement) < len(state.instance.applications):
        missing = len(state.instance.applications) - len(placement)
        return MethodOutput(
            placement={},
            status=Status.NO_SOLUTION_FOUND,
            stats=stats or {},
            message=f"host_all is set but {missing} applications could not be placed",
        )
    return MethodOutput(placement=placement, status=Status.FEASIBLE, stats=stats or {})


@register(
    "first_fit",
    "Seed model-driven first-fit: arrival order, first accelerator where every "
    "hosted class still meets its SLO under the queueing model",
    "heuristic",
)
def first_fit(instance: Instance, params: SolveParams) -> MethodOutput:
    state = ClusterState(instance)
    order = [acc.name for _, acc in instance.accelerators()]
    for app in instance.applications:
        for acc_name in order:
            if state.can_place(app.name, acc_name):
                state.place(app.name, acc_name)
                break
    return finish(state)
