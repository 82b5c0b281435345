"""Make-before-break plans: a safe order of steps from the running placement to a target.

A move is three steps: *start* a copy on the destination (it holds its backend's and front end's
memory but no traffic), *shift* the traffic to it, *stop* the copy at the source. An application
the target leaves unplaced is *evicted* (one step); one that runs nowhere yet is started and
then receives its traffic. After every step the whole cluster state (traffic placement plus idle
copies) is checked by the independent evaluator (:func:`optplace.evaluate.evaluate` with
``reserved``). A state is *acceptable* when each of its violations was already present right
after the changes (e.g. an accelerator overloaded by a rate increase) **and** nothing has been
added to the accelerator or node it sits on since; so an application that was fine before stays
fine, and a place that was already broken only ever loses load until the plan fixes it.

The order is found greedily with dependency resolution: evictions first (they only free
capacity), then the pending operations in priority order (leaving a draining accelerator,
leaving an overloaded place, recovering lost applications, admitting new ones, then voluntary
moves, those that free a destination of a waiting admission first); after every successful
operation the scan restarts from the top. An operation that failed is retried only once its
destination's node has changed. When nothing can proceed (a cycle: A waits for room that B frees
and B for room that A frees) one application of the cycle is *parked* on a third accelerator,
kept only if that lets some other operation proceed, and later moved on to its target. What
still cannot proceed is *blocked*; :meth:`Planner.missing_capacity` says, per blocked operation,
which step failed and by how much memory (MB) and utilisation its state exceeds the limits.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from optplace.domain import Application, Instance
from optplace.evaluate import Evaluation, backend_key, evaluate
from optplace.migration.changes import Situation, move_cost
from optplace.migration.result import MissingCapacity, PlanStep, Purpose, StepAction
from optplace.migration.verify import places_of, unsafe, violation_key

PARKING_CANDIDATES = 16  # accelerators tried as a parking spot per blocked move, least utilised first

_RANK = {
    Purpose.EVICT: -1,  # evictions only free capacity
    Purpose.DRAIN: 0,
    Purpose.RELIEVE: 1,
    Purpose.RECOVER: 2,
    Purpose.ADMIT: 3,
    Purpose.UNPARK: 4,
    Purpose.REBALANCE: 5,
}


@dataclass
class Operation:
    """Bring ``application`` from ``source`` (None: it runs nowhere) to ``destination`` (None: evict)."""

    application: str
    source: str | None
    destination: str | None
    purpose: Purpose
    failed_step: StepAction | None = None
    failed_state: Evaluation | None = None
    failed_versions: tuple[int, int] = (-1, -1)  # its nodes' versions when it last failed


@dataclass
class _Counts:
    moves: int = 0
    parking_moves: int = 0
    budgeted_moves: int = 0
    evictions: int = 0
    admissions: int = 0
    move_cost: float = 0.0


class Planner:
    """Walks the running cluster towards targets one verified step at a time."""

    def __init__(self, situation: Situation, max_moves: int | None = None):
        self.situation = situation
        self.instance: Instance = situation.instance
        self.max_moves = max_moves
        self.apps: dict[str, Application] = {a.name: a for a in self.instance.applications}
        self.models = self.instance.model_map()
        self.types = self.instance.accelerator_type_map()
        self.node_of = {acc.name: node.name for node, acc in self.instance.accelerators()}
        self.type_of = {acc.name: acc.type for _, acc in self.instance.accelerators()}
        self.node_labels = {node.name: node.labels for node in self.instance.nodes}
        self.usable = [
            acc.name
            for _, acc in self.instance.accelerators()
            if acc.name not in situation.unavailable and acc.name not in situation.draining
        ]
        self.traffic: dict[str, str] = dict(situation.start)
        self.copies: dict[str, str] = {}
        self.steps: list[PlanStep] = []
        self.counts = _Counts()
        self.states_checked = 0
        self.parked: set[str] = set()
        self.pending: list[Operation] = []
        self.node_version: dict[str, int] = defaultdict(int)

        self.initial = evaluate(self.instance, self.traffic)
        self.last_state = self.initial
        self.inherited = {violation_key(v) for v in self.initial.violations}
        self.start_places = places_of(self.traffic, self.copies, self.node_of)
        self.hot = {v.accelerator for v in self.initial.violations if v.accelerator} | {
            v.node for v in self.initial.violations if v.node and not v.accelerator
        }

    # --- states ----------------------------------------------------------------------------------

    def acceptable(self, state: Evaluation) -> bool:
        """Every violation was there after the changes, and nothing was added where it sits."""
        if not state.violations:
            return True
        return not unsafe(state, self.inherited, places_of(self.traffic, self.copies, self.node_of), self.start_places)

    def _check(self) -> tuple[Evaluation, bool]:
        self.states_checked += 1
        state = evaluate(self.instance, self.traffic, reserved=self.copies)
        return state, self.acceptable(state)

    def _snapshot(self) -> tuple:
        return (
            dict(self.traffic),
            dict(self.copies),
            len(self.steps),
            dataclasses.replace(self.counts),
            set(self.parked),
        )

    def _restore(self, snapshot: tuple) -> None:
        traffic, copies, n_steps, counts, parked = snapshot
        self.traffic, self.copies, self.counts, self.parked = traffic, copies, counts, parked
        del self.steps[n_steps:]

    # --- steps -------------------------------------------------------------------------------------

    def _backend_elsewhere(self, app: str, acc: str) -> bool:
        """Does another application keep ``app``'s backend running on ``acc``?"""
        key = backend_key(self.apps[app], self.models[self.apps[app].model].shareable)
        return any(
            other != app
            and where == acc
            and backend_key(self.apps[other], self.models[self.apps[other].model].shareable) == key
            for mapping in (self.traffic, self.copies)
            for other, where in mapping.items()
        )

    def _step(
        self, state: Evaluation, action: StepAction, app: str, acc: str, purpose: Purpose, source: str | None = None
    ) -> None:
        application = self.apps[app]
        profile = self.models[application.model].profiles[self.type_of[acc]]
        # Called after the step: whether another application keeps the backend there tells
        # whether a start loaded it, or a stop or eviction unloads it.
        backend = not self._backend_elsewhere(app, acc)
        memory = (profile.memory_mb if backend else 0.0) + application.frontend_memory_mb
        if action == StepAction.SHIFT:
            memory, backend = 0.0, False
        elif action in (StepAction.STOP, StepAction.EVICT):
            memory = -memory
        acc_state = next(a for a in state.accelerators if a.accelerator == acc)
        if acc_state.memory_limit_mb is not None:
            used, limit = acc_state.memory_used_mb or 0.0, acc_state.memory_limit_mb
        else:
            node_state = next(n for n in state.nodes if n.node == self.node_of[acc])
            used, limit = node_state.memory_used_mb, node_state.memory_limit_mb
        self.steps.append(
            PlanStep(
                index=len(self.steps) + 1,
                action=action,
                application=app,
                accelerator=acc,
                source=source,
                purpose=purpose,
                loads_backend=backend,
                memory_mb=memory,
                load_time_ms=profile.load_time_ms if action == StepAction.START and backend else None,
                utilization=acc_state.utilization,
                memory_used_mb=used,
                memory_limit_mb=limit,
            )
        )

    def _fail(self, operation: Operation, step: StepAction, state: Evaluation, snapshot: tuple) -> bool:
        self._restore(snapshot)
        operation.failed_step, operation.failed_state = step, state
        operation.failed_versions = self._versions(operation)
        return False

    def _versions(self, operation: Operation) -> tuple[int, int]:
        return tuple(  # type: ignore[return-value]
            self.node_version[self.node_of[place]] if place is not None else 0
            for place in (operation.destination, operation.source)
        )

    def _counts_against_budget(self, operation: Operation) -> bool:
        """Migrations and evictions of running applications count, except leaving a draining accelerator."""
        return operation.source is not None and operation.source not in self.situation.draining

    def _within_budget(self, operation: Operation) -> bool:
        return (
            self.max_moves is None
            or not self._counts_against_budget(operation)
            or self.counts.budgeted_moves < self.max_moves
        )

    def execute(self, operation: Operation) -> bool:
        """Do ``operation`` if every state on the way is acceptable; otherwise change nothing."""
        app, source, destination = operation.application, operation.source, operation.destination
        if destination is None:
            return self.evict(operation)
        snapshot = self._snapshot()
        self.copies[app] = destination
        state, ok = self._check()
        if not ok:
            return self._fail(operation, StepAction.START, state, snapshot)
        self._step(state, StepAction.START, app, destination, operation.purpose)
        self.traffic[app] = destination
        if source is not None:
            self.copies[app] = source
        else:
            del self.copies[app]
        state, ok = self._check()
        if not ok:
            return self._fail(operation, StepAction.SHIFT, state, snapshot)
        self._step(state, StepAction.SHIFT, app, destination, operation.purpose, source=source)
        if source is not None:
            del self.copies[app]
            state, ok = self._check()
            if not ok:
                return self._fail(operation, StepAction.STOP, state, snapshot)
            self._step(state, StepAction.STOP, app, source, operation.purpose)
        self._account(operation)
        self.last_state = state
        for place in {destination, source}:
            if place is not None:
                self.node_version[self.node_of[place]] += 1
        return True

    def _account(self, operation: Operation) -> None:
        counts = self.counts
        if operation.source is None:
            counts.admissions += 1
            return
        assert operation.destination is not None
        counts.moves += 1
        if operation.purpose == Purpose.PARK:
            counts.parking_moves += 1
        if self._counts_against_budget(operation):
            counts.budgeted_moves += 1
        mode = self.situation.changes.move_cost
        profiles = self.models[self.apps[operation.application].model].profiles
        counts.move_cost += move_cost(profiles, self.type_of[operation.destination], mode)

    def evict(self, operation: Operation) -> bool:
        """Stop the application (traffic and copy) if the state after is acceptable."""
        app = operation.application
        snapshot = self._snapshot()
        source = self.traffic.pop(app)
        state, ok = self._check()
        if not ok:
            self._restore(snapshot)
            operation.failed_step, operation.failed_state = StepAction.EVICT, state
            operation.failed_versions = self._versions(operation)
            return False
        self._step(state, StepAction.EVICT, app, source, Purpose.EVICT)
        self.counts.evictions += 1
        if self._counts_against_budget(operation):
            self.counts.budgeted_moves += 1
        self.last_state = state
        self.node_version[self.node_of[source]] += 1
        return True

    # --- towards a target ------------------------------------------------------------------------

    def _purpose(self, app: str, source: str | None) -> Purpose:
        if source is None:
            return Purpose.RECOVER if app in self.situation.lost else Purpose.ADMIT
        if app in self.parked:
            return Purpose.UNPARK
        if source in self.situation.draining:
            return Purpose.DRAIN
        if source in self.hot or self.node_of[source] in self.hot:
            return Purpose.RELIEVE
        return Purpose.REBALANCE

    def run(self, target: Mapping[str, str]) -> bool:
        """Walk to ``target``; True when it is reached, else the rest stays in :attr:`pending`."""
        operations = [
            Operation(app, acc, None, Purpose.EVICT) for app, acc in self.traffic.items() if app not in target
        ]
        operations += [
            Operation(app, self.traffic.get(app), acc, self._purpose(app, self.traffic.get(app)))
            for app, acc in target.items()
            if self.traffic.get(app) != acc
        ]
        waiting_on = {op.destination for op in operations if op.source is None}
        order = {name: i for i, name in enumerate(self.apps)}

        def rank(op: Operation) -> tuple:
            frees_room = op.purpose == Purpose.REBALANCE and op.source in waiting_on
            return (_RANK[op.purpose], not frees_room, -self.apps[op.application].priority, order[op.application])

        self.pending = sorted(operations, key=rank)
        while self.pending:
            if not self._advance() and not self._park():
                break
        return not self.pending

    def _ready(self, operation: Operation) -> bool:
        stale = operation.failed_versions != self._versions(operation)
        return self._within_budget(operation) and (operation.failed_step is None or stale)

    def _advance(self) -> bool:
        for operation in self.pending:
            if self._ready(operation) and self.execute(operation):
                self.pending.remove(operation)
                return True
        return False

    def _park(self) -> bool:
        """Break a cycle: move one waiting application aside if that lets another operation proceed."""
        for operation in list(self.pending):
            app, source = operation.application, operation.source
            if source is None or operation.destination is None or app in self.parked:
                continue
            for spot in self._parking_spots(operation):
                leg = Operation(app, source, spot, Purpose.PARK)
                if not self._within_budget(leg):
                    break
                snapshot = self._snapshot()
                if not self.execute(leg):
                    continue
                self.parked.add(app)
                for other in self.pending:
                    if other is not operation and self._within_budget(other) and self.execute(other):
                        self.pending.remove(other)
                        operation.source, operation.purpose = spot, Purpose.UNPARK
                        operation.failed_step = None
                        return True
                self._restore(snapshot)
        return False

    def _parking_spots(self, operation: Operation) -> list[str]:
        app = self.apps[operation.application]
        profiles = self.models[app.model].profiles
        utilization = {a.accelerator: a.utilization for a in self.last_state.accelerators}
        spots = [
            acc
            for acc in self.usable
            if acc not in (operation.source, operation.destination)
            and self.type_of[acc] in profiles
            and (app.allowed_accelerator_types is None or self.type_of[acc] in app.allowed_accelerator_types)
            and all(self.node_labels[self.node_of[acc]].get(k) == v for k, v in app.required_labels.items())
        ]
        spots.sort(key=lambda acc: utilization.get(acc, 0.0))
        return spots[:PARKING_CANDIDATES]

    # --- when a target cannot be reached -------------------------------------------------------

    def missing_capacity(self) -> list[MissingCapacity]:
        """For every pending operation: the step that fails now, and by how much."""
        out = []
        for operation in self.pending:
            if not self._within_budget(operation):
                place = operation.destination or operation.source
                assert place is not None
                out.append(
                    MissingCapacity(
                        application=operation.application,
                        step=StepAction.START if operation.destination else StepAction.EVICT,
                        accelerator=place,
                        node=self.node_of[place],
                        memory_mb=0.0,
                        utilization=0.0,
                        budget=True,
                        detail=f"max_moves={self.max_moves} is spent",
                    )
                )
                continue
            if self.execute(operation):  # cannot happen after a failed scan; keep the plan honest anyway
                self.pending.remove(operation)
                continue
            out.append(self._shortfall(operation))
        return out

    def _shortfall(self, operation: Operation) -> MissingCapacity:
        state = operation.failed_state
        assert state is not None and operation.failed_step is not None
        source_side = operation.failed_step in (StepAction.STOP, StepAction.EVICT)
        place = operation.source if source_side else operation.destination
        assert place is not None
        node = self.node_of[place]
        acc_state = next(a for a in state.accelerators if a.accelerator == place)
        node_state = next(n for n in state.nodes if n.node == node)
        memory = max(0.0, node_state.memory_used_mb - node_state.memory_limit_mb)
        if acc_state.memory_limit_mb is not None and acc_state.memory_used_mb is not None:
            memory = max(memory, acc_state.memory_used_mb - acc_state.memory_limit_mb)
        new = [v for v in state.violations if violation_key(v) not in self.inherited]
        shown = "; ".join(v.message for v in new[:3]) or "a place that was already violated would gain load"
        return MissingCapacity(
            application=operation.application,
            step=operation.failed_step,
            accelerator=place,
            node=node,
            memory_mb=memory,
            utilization=max(0.0, acc_state.utilization - acc_state.utilization_cap),
            violations=new,
            detail=f"{operation.failed_step.value} of {operation.application} on {place}: {shown}",
        )

    def settle(self) -> bool:
        """Give up the pending operations and make the current state clean by evictions alone:
        empty the draining accelerators, then, place by place (an accelerator, or a node for
        node-wide limits), evict from whatever still violates: of the lowest priority there, the
        smallest application whose departure alone clears the place, else the busiest one. False
        when that cannot clear every violation (only pinned applications left where one sits, or
        no eviction step is acceptable)."""
        self.pending = []
        for app, acc in list(self.traffic.items()):
            if acc in self.situation.draining:
                self.evict(Operation(app, acc, None, Purpose.EVICT))
        while True:
            state = evaluate(self.instance, self.traffic)
            if not state.violations:
                return True
            places = [place for v in state.violations if (place := v.accelerator or v.node) is not None]
            if not places:
                return False
            if not any(self._relieve(place) for place in dict.fromkeys(places)):
                return False

    def _relieve(self, place: str) -> bool:
        """Evict one application from ``place`` (see :meth:`settle`); False if none can go."""

        def at(acc: str) -> bool:
            return acc == place or self.node_of[acc] == place

        def clears(app: str) -> bool:
            trial = {a: acc for a, acc in self.traffic.items() if a != app}
            return not any(
                at(v.accelerator) if v.accelerator else v.node == place
                for v in evaluate(self.instance, trial).violations
            )

        here = [a for a, acc in self.traffic.items() if at(acc) and not self.apps[a].pinned]
        if not here:
            return False
        lowest = min(self.apps[a].priority for a in here)
        cheapest = sorted((a for a in here if self.apps[a].priority == lowest), key=lambda a: self.apps[a].rate_rps)
        enough = [a for a in cheapest if clears(a)]
        for app in enough[:1] + cheapest[::-1] + sorted(here, key=lambda a: self.apps[a].priority):
            if self.evict(Operation(app, self.traffic[app], None, Purpose.EVICT)):
                return True
        return False
