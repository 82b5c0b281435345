"""``auto``: run the registered methods that fit the time limit and keep the best verified placement."""

from __future__ import annotations

import time

from optplace.domain import Instance
from optplace.evaluate import evaluate
from optplace.objectives import lexicographic_key
from optplace.params import SolveParams
from optplace.registry import MethodOutput, list_methods, register
from optplace.result import Status


@register("auto", "Best verified placement among the fast heuristics (exact methods join when installed)", "portfolio")
def auto(instance: Instance, params: SolveParams) -> MethodOutput:
    started = time.perf_counter()
    best: MethodOutput | None = None
    best_key: tuple[float, ...] | None = None
    tried = []
    for info in list_methods():
        if info.kind != "heuristic":
            continue
        if params.time_limit_s is not None and time.perf_counter() - started > params.time_limit_s:
            break
        output = info.function(instance, params)
        tried.append(info.name)
        if output.status not in (Status.OPTIMAL, Status.FEASIBLE):
            continue
        evaluation = evaluate(instance, output.placement)
        if not evaluation.feasible:
            continue  # never let a broken candidate win; solve() would reject it anyway
        key = lexicographic_key(instance.objectives, evaluation.objectives)
        if best_key is None or key > best_key:
            best, best_key = output, key
            best.stats = {**best.stats, "chosen": info.name}
    if best is None:
        return MethodOutput(
            placement={}, status=Status.NO_SOLUTION_FOUND, message="no method found a placement", stats={"tried": tried}
        )
    best.stats["tried"] = tried
    return best
