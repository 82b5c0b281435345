"""The referee of a plan: replay its steps from the start and check every state again.

Independent of the planner's own bookkeeping, :func:`verify_plan` applies each step's meaning to
a fresh copy of the running placement, re-evaluates the whole state with the evaluator, and
checks the safety rule of ``docs/replan.md``: every violation of a state was already present
right after the changes, on a place (accelerator or node) that has gained nothing since. It also
checks that each step is possible where it stands, that pinned applications never take part,
and that the plan ends exactly in the target placement with no copies left. ``replan`` calls it
on every result it returns, as ``solve`` re-checks every placement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from optplace.evaluate import Evaluation, Violation, ViolationCode, evaluate
from optplace.migration.changes import Situation
from optplace.migration.result import PlanStep, StepAction


def violation_key(v: Violation) -> tuple:
    """What a violation is about, for "was it there after the changes?". An unstable accelerator
    (utilisation >= 1) is the extreme of one over its cap: losing load can turn the first into the
    second, which is the same violation, improving."""
    code = ViolationCode.UTILIZATION_CAP_EXCEEDED if v.code == ViolationCode.UNSTABLE else v.code
    return (code, v.application, v.accelerator, v.node)


def places_of(traffic: Mapping[str, str], copies: Mapping[str, str], node_of: Mapping[str, str]) -> dict[str, set[str]]:
    """Accelerator or node name -> applications with traffic or a copy there."""
    places: dict[str, set[str]] = defaultdict(set)
    for mapping in (traffic, copies):
        for app, acc in mapping.items():
            places[acc].add(app)
            places[node_of[acc]].add(app)
    return places


def unsafe(
    state: Evaluation, inherited: set[tuple], places: dict[str, set[str]], start_places: dict[str, set[str]]
) -> list[str]:
    """The safety rule, in one place: why ``state`` is not acceptable (empty when it is).

    ``inherited`` holds the :func:`violation_key` of every violation right after the changes;
    ``places`` and ``start_places`` (from :func:`places_of`) say what runs where now and then.
    """
    problems = []
    for v in state.violations:
        if violation_key(v) not in inherited:
            problems.append(f"new violation {v.code.value}: {v.message}")
            continue
        for place in (v.accelerator, v.node):
            if place is not None and not places.get(place, set()) <= start_places.get(place, set()):
                problems.append(f"{place} violates {v.code.value} and has gained load since the changes")
    return problems


def verify_plan(situation: Situation, steps: Sequence[PlanStep], target: Mapping[str, str]) -> list[str]:
    """Every problem of ``steps`` (from ``situation.start`` to ``target``); empty when the plan is safe."""
    instance = situation.instance
    node_of = {acc.name: node.name for node, acc in instance.accelerators()}
    pinned = {a.name for a in instance.applications if a.pinned}
    traffic = dict(situation.start)
    copies: dict[str, str] = {}
    inherited = {violation_key(v) for v in evaluate(instance, traffic).violations}
    start_places = places_of(traffic, copies, node_of)
    problems: list[str] = []
    for step in steps:
        app, acc = step.application, step.accelerator
        where = f"step {step.index} ({step.action.value} {app} on {acc})"
        if app in pinned:
            problems.append(f"{where}: {app} is pinned")
        if step.action == StepAction.EVICT:
            ok = traffic.get(app) == acc and app not in copies
            traffic.pop(app, None)
        elif step.action == StepAction.START:
            ok = app not in copies and traffic.get(app) != acc
            copies[app] = acc
        elif step.action == StepAction.SHIFT:
            ok = copies.get(app) == acc and traffic.get(app) == step.source
            traffic[app] = acc
            if step.source is not None:
                copies[app] = step.source
            else:
                copies.pop(app, None)
        else:
            ok = copies.get(app) == acc and traffic.get(app) != acc
            copies.pop(app, None)
        if not ok:
            problems.append(f"{where}: not possible in the state before it")
            break
        state = evaluate(instance, traffic, reserved=copies)
        problems += [
            f"{where}: {p}" for p in unsafe(state, inherited, places_of(traffic, copies, node_of), start_places)
        ]
    if copies:
        problems.append(f"copies left running after the plan: {sorted(copies)}")
    if traffic != dict(target):
        problems.append("the plan does not end in the target placement")
    return problems
