"""The kube-scheduler extender's decisions, answered from a plan (HTTP lives in the API layer).

For each pod the scheduler asks about, and each candidate node:

* a pod of an application the plan places passes only the plan's node (every other node is
  *failed and unresolvable*: preempting pods there would not change the plan) and scores
  :data:`MAX_EXTENDER_PRIORITY` there;
* a pod of an application the plan leaves unplaced passes no node: the plan found no place where
  every SLO holds, so admitting it would break a promise. It stays pending until a new plan;
* a model backend written by the export passes only the node of its accelerator;
* a pod of an application the plan does not know (or knows with other annotations: a changed
  rate or SLO) passes the nodes with an accelerator that can take it beside what the plan placed
  there with every SLO on that node still met, checked by the evaluator on the node alone (an
  application's latency depends only on its node). It scores by SLO slack: ``floor(10 x min
  (SLO - predicted) / SLO)`` over the applications on the best accelerator of the node;
* any other pod passes every node with score 0: optplace has no opinion on it.

Scores are in upstream's range, ``MinExtenderPriority`` 0 to ``MaxExtenderPriority`` 10
(k8s.io/kube-scheduler/extender/v1); the scheduler multiplies them by the extender's weight.
The extender decides against the plan only: two pods the plan does not know, scheduled one
after the other, are each checked against the plan alone. Re-plan after arrivals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from optplace.domain import Application
from optplace.evaluate import ViolationCode, evaluate
from optplace.k8s import scheme
from optplace.k8s.objects import Pod
from optplace.k8s.plan import Plan

MIN_EXTENDER_PRIORITY = 0  # extenderv1.MinExtenderPriority
MAX_EXTENDER_PRIORITY = 10  # extenderv1.MaxExtenderPriority

# What a pod's annotations and node selector say about its application (scheme.py).
_DEMAND = {
    "model",
    "rate_rps",
    "slo",
    "priority",
    "preprocess_ms",
    "frontend_memory_mb",
    "allowed_accelerator_types",
    "required_labels",
}


@dataclass
class Verdict:
    """The extender's answer for one pod: per node, whether it passes, why not, and its score."""

    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    unresolvable: dict[str, str] = field(default_factory=dict)
    scores: dict[str, int] = field(default_factory=dict)


class NoPlan(RuntimeError):
    """An optplace pod was asked about before any plan was set."""


def decide(plan: Plan | None, pod: Pod, nodes: list[str]) -> Verdict:
    """Filter and score ``nodes`` for ``pod`` against ``plan``."""
    annotations = pod.metadata.annotations
    if scheme.is_backend(annotations):
        accelerator = annotations.get(scheme.ACCELERATOR, "")
        if plan is None:
            raise NoPlan("no plan is set; PUT /v1/extender/plan first")
        node = plan.node_of(accelerator)
        if node is None:
            return _everywhere(nodes)
        return _only(nodes, node.name, f"backend of accelerator {accelerator!r}, which is on node {node.name!r}")
    if not scheme.is_application(annotations):
        return _everywhere(nodes)
    if plan is None:
        raise NoPlan("no plan is set; PUT /v1/extender/plan first")
    try:
        app = scheme.application_from_annotations(annotations, pod.metadata.name, pod.spec.nodeSelector)
    except scheme.AnnotationError as error:
        return _nowhere(nodes, f"pod {pod.ref} has invalid optplace annotations: {error}")
    known = next((a for a in plan.instance.applications if a.name == app.name), None)
    if known is not None and _same_demand(known, app):
        planned = plan.placement.get(app.name)
        if planned is None:
            reason = plan.unplaced.get(app.name, "not placed")
            return _nowhere(nodes, f"the optplace plan leaves application {app.name!r} unplaced ({reason})")
        node = plan.node_of(planned)
        assert node is not None  # a verified plan only places on its own accelerators
        return _only(nodes, node.name, f"the optplace plan puts application {app.name!r} on {planned!r}")
    return _fit_new(plan, app, nodes)


def _everywhere(nodes: list[str]) -> Verdict:
    return Verdict(passed=list(nodes), scores={n: MIN_EXTENDER_PRIORITY for n in nodes})


def _nowhere(nodes: list[str], reason: str) -> Verdict:
    return Verdict(unresolvable={n: reason for n in nodes}, scores={n: MIN_EXTENDER_PRIORITY for n in nodes})


def _only(nodes: list[str], target: str, why: str) -> Verdict:
    verdict = Verdict()
    for node in nodes:
        if node == target:
            verdict.passed.append(node)
            verdict.scores[node] = MAX_EXTENDER_PRIORITY
        else:
            verdict.unresolvable[node] = f"{why}, node {target!r}"
            verdict.scores[node] = MIN_EXTENDER_PRIORITY
    return verdict


def _same_demand(planned: Application, asked: Application) -> bool:
    """Whether the pod asks for what the plan planned: the fields its annotations carry."""
    return planned.model_dump(include=_DEMAND) == asked.model_dump(include=_DEMAND)


def _fit_new(plan: Plan, app: Application, nodes: list[str]) -> Verdict:
    models = plan.instance.model_map()
    if app.model not in models:
        return _nowhere(nodes, f"model {app.model!r} is not in the plan's catalog; add it and re-plan")
    verdict = Verdict()
    for name in nodes:
        slack, reason = _best_slack(plan, app, name)
        if slack is None:
            verdict.failed[name] = reason
            verdict.scores[name] = MIN_EXTENDER_PRIORITY
        else:
            verdict.passed.append(name)
            verdict.scores[name] = max(
                MIN_EXTENDER_PRIORITY, min(MAX_EXTENDER_PRIORITY, math.floor(MAX_EXTENDER_PRIORITY * slack + 1e-9))
            )
    return verdict


def _best_slack(plan: Plan, app: Application, node_name: str) -> tuple[float | None, str]:
    """The largest SLO slack over the node's accelerators that can take ``app`` beside the plan's
    applications there (``None`` and the reason when none can)."""
    node = plan.node(node_name)
    if node is None:
        return None, f"node {node_name!r} is not in the optplace plan (no accelerator optplace knows)"
    local = {acc.name for acc in node.accelerators}
    neighbours = [a for a in plan.instance.applications if plan.placement.get(a.name) in local and a.name != app.name]
    newcomer = app.model_copy(update={"current_accelerator": None, "pinned": False})
    alone = plan.instance.model_copy(update={"nodes": [node], "applications": [*neighbours, newcomer]})
    base = {a.name: plan.placement[a.name] for a in neighbours}
    best: float | None = None
    reasons: list[str] = []
    for acc in node.accelerators:
        evaluation = evaluate(alone, {**base, app.name: acc.name})
        broken = [v for v in evaluation.violations if v.code != ViolationCode.NOT_HOSTED]
        if broken:
            reasons.append(f"{acc.name}: {broken[0].code.value}")
            continue
        slack = min(
            (e.slo_ms - e.latency_ms) / e.slo_ms
            for e in evaluation.applications
            if e.accelerator is not None and e.latency_ms is not None
        )
        best = slack if best is None else max(best, slack)
    if best is None:
        return None, f"no accelerator on node {node_name!r} can take application {app.name!r} ({'; '.join(reasons)})"
    return best, ""
