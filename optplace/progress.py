"""Incumbent and bound bookkeeping, shared by every method: one log, one channel.

:class:`IncumbentLog` keeps what a solve has *proven* so far: the best verified placement (every
offer goes through the independent evaluator first), the tightest valid bound on the primary
objective, and a trace of events ``(time, stage, event, incumbent, bound, gap)``: the progress
log of the solve, which methods put in ``SolveResult.stats["progress"]``.

Bounds come from many places (the trivial bound of :mod:`optplace.bounds`, an LP, a Lagrangian,
the configuration LP, a MILP's dual bound); the log keeps the tightest. A bound that a verified
placement beats is not a proof but a solver error: it is discarded (and recorded), and the log
falls back to the tightest bound still standing.

**The incumbent channel.** Each improvement of a log's incumbent is *published* to whoever
listened when the log was created (:func:`listening`; :func:`publish` reaches the current
listener): the HTTP worker stores it at once as the running job's best result;
``solve(on_incumbent=..., log=...)`` attaches the same way and hands the caller a
:class:`ProgressEvent` per better placement or tighter bound (:func:`current_listener` lets it
pass every output on to an enclosing listener, such as the worker's). A method running inside another one (a stage
of ``auto``) runs inside ``listening(outer_log.listener(...))``, so its log publishes into the
enclosing log, which re-publishes only what improves on its own incumbent: a listener never sees
a worse placement after a better one.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from optplace.bounds import round_bound, tighter
from optplace.domain import Instance
from optplace.evaluate import evaluate
from optplace.objectives import lexicographic_key
from optplace.registry import MethodOutput
from optplace.result import Status, StopReason, relative_gap

Listener = Callable[[MethodOutput], None]

_listener: ContextVar[Listener | None] = ContextVar("optplace_incumbent_listener", default=None)

BOUND_TOLERANCE = 1e-6  # relative: a placement beating a bound by more than this refutes it
TRACE_LIMIT = 2000  # events kept in the trace (the first ones and, past the limit, the last)
BOUND_PUBLISH_INTERVAL_S = 1.0  # a tighter bound alone is published at most this often


def publish(output: MethodOutput) -> None:
    """Hand ``output`` (a verified-feasible placement better than any published before in this
    solve) to the listener of this context; a no-op when nobody listens."""
    listener = _listener.get()
    if listener is not None:
        listener(output)


def current_listener() -> Listener | None:
    """Whoever :func:`publish` reaches here (None: nobody)."""
    return _listener.get()


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a solve as ``solve(on_incumbent=...)`` and ``solve(log=...)`` see it: a better
    verified placement (``event == "incumbent"``) or a tighter bound for the same one
    (``"bound"``). ``time_s`` counts from the start of the method; ``source`` says which stage or
    part of the method found it; ``placement`` maps each hosted application to its accelerator."""

    time_s: float
    method: str
    event: str
    source: str
    objective_name: str
    objective: float | None
    bound: float | None
    gap: float | None
    hosted: int
    placement: dict[str, str] = field(repr=False)

    def line(self) -> str:
        """The progress log's line: time, method, event, incumbent, bound, gap, size, source."""
        return progress_line(
            self.time_s, self.method, self.event, self.objective_name, self.objective, self.bound, self.gap, self.hosted
        ) + (f"  ({self.source})" if self.source else "")


def progress_line(
    time_s: float,
    method: str,
    what: str,
    objective_name: str,
    objective: float | None,
    bound: float | None,
    gap: float | None,
    hosted: int,
) -> str:
    """One line of a progress log (``solve(log=...)``, ``optplace solve`` on stderr)."""

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.6g}"

    shown_gap = "-" if gap is None else f"{100 * gap:.2f}%"
    return (
        f"{time_s:8.2f} s  {method}  {what:<9}  {objective_name} {number(objective)}"
        f"  bound {number(bound)}  gap {shown_gap}  hosted {hosted}"
    )


def someone_listens() -> bool:
    """Whether :func:`publish` reaches anybody here (so a method can skip building an output)."""
    return _listener.get() is not None


class Throttle:
    """Lets something through at most once per ``interval_s``, and never more often than keeps its
    cost under ``share`` of the time (for methods that improve very often: publishing means the
    listener verifies the whole placement, about a second at 10,000 applications)."""

    def __init__(self, interval_s: float = 0.5, share: float = 0.05, clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_s
        self.share = share
        self.clock = clock
        self.last = -math.inf
        self.cost_s = 0.0

    def ready(self) -> bool:
        now = self.clock()
        if now - self.last >= max(self.interval_s, self.cost_s / self.share):
            self.last = now
            return True
        return False

    def spent(self, seconds: float) -> None:
        """What letting the last one through cost (it spaces the next ones out)."""
        self.cost_s = seconds


@contextlib.contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Within the block, :func:`publish` calls ``listener`` (``None``: nobody listens)."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


class IncumbentLog:
    """Best verified placement, tightest valid bound, and the log of how both evolved.

    ``integral`` (default: decided from the instance) lets bounds be rounded towards the feasible
    side, e.g. a max-hosted bound of 57.8 becomes 57. ``publish_improvements`` sends every better
    placement down the incumbent channel.
    """

    def __init__(
        self,
        instance: Instance,
        *,
        integral: bool | None = None,
        publish_improvements: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        from optplace.bounds import objective_is_integral

        self.instance = instance
        self.objectives = list(instance.objectives)
        self.maximize = self.objectives[0].maximize
        self.integral = objective_is_integral(instance, self.objectives[0]) if integral is None else integral
        self.publish_improvements = publish_improvements
        self.listener_at_start = _listener.get()  # where improvements go (see the module docstring)
        self.bound_throttle = Throttle(BOUND_PUBLISH_INTERVAL_S, clock=clock)
        self.clock = clock
        self.started = clock()
        self.best: dict[str, str] | None = None
        self.best_key: tuple[float, ...] | None = None
        self.best_source = ""
        self.bounds: dict[str, float] = {}  # source -> tightest bound it gave (valid ones only)
        self.discarded: dict[str, float] = {}  # source -> a bound a verified placement refuted
        self.rejected = 0  # offers the evaluator rejected
        self.offers = 0
        self.events: list[dict[str, Any]] = []
        self.stage_name = ""
        self.stop_reason = StopReason.COMPLETED

    # --- reading ---------------------------------------------------------------------------------

    @property
    def bound(self) -> float | None:
        """The tightest bound still standing, or None."""
        best = None
        for value in self.bounds.values():
            best = tighter(best, value, self.maximize)
        return best

    @property
    def bound_source(self) -> str:
        bound = self.bound
        for source, value in self.bounds.items():
            if value == bound:
                return source
        return ""

    def primary_value(self) -> float | None:
        if self.best_key is None:
            return None
        return self.best_key[0] if self.maximize else -self.best_key[0]

    def gap(self) -> float | None:
        return relative_gap(self.primary_value(), self.bound)

    def proven(self) -> bool:
        """The incumbent meets the bound: optimal."""
        value, bound = self.primary_value(), self.bound
        return value is not None and bound is not None and abs(bound - value) <= 1e-9 * max(1.0, abs(value))

    def elapsed(self) -> float:
        return self.clock() - self.started

    # --- writing ---------------------------------------------------------------------------------

    def stage(self, name: str) -> None:
        """Mark the start of a stage; later events carry its name."""
        self.stage_name = name
        self._event("stage")

    def offer(self, placement: dict[str, str], source: str) -> bool:
        """Keep ``placement`` if the evaluator accepts it and it is better; True if it became best."""
        self.offers += 1
        evaluation = evaluate(self.instance, placement)
        if not evaluation.feasible:
            self.rejected += 1
            return False
        key = lexicographic_key(self.objectives, evaluation.objectives)
        if self.best_key is not None and key <= self.best_key:
            return False
        self.best, self.best_key, self.best_source = dict(placement), key, source
        self._refute_bounds()
        self._event("incumbent", source)
        if self.publish_improvements:
            self._publish(f"incumbent from {source}")
        return True

    def offer_bound(self, value: float | None, source: str) -> bool:
        """Record a valid bound on the primary objective; True if it is the tightest now."""
        if value is None or not math.isfinite(value):
            return False
        value = round_bound(float(value), self.maximize, self.integral)
        incumbent = self.primary_value()
        if incumbent is not None and self._refutes(incumbent, value):
            self.discarded[source] = value
            return False
        before = self.bound
        previous = self.bounds.get(source)
        self.bounds[source] = value if previous is None else (min if self.maximize else max)(previous, value)
        if before is None or tighter(before, value, self.maximize) != before:
            self._event("bound", source)
            # the incumbent with its better bound, now and then (the listener verifies it again)
            if self.publish_improvements and self.best is not None and self.bound_throttle.ready():
                started = self.clock()
                self._publish(f"bound from {source}")
                self.bound_throttle.spent(self.clock() - started)
            return True
        return False

    def note_stop(self, stop: StopReason) -> None:
        """Remember a limit that stopped a stage (the solve then stopped at a limit too)."""
        if stop in (StopReason.TIME_LIMIT, StopReason.ITERATION_LIMIT) and self.stop_reason == StopReason.COMPLETED:
            self.stop_reason = stop

    def listener(self, source: str) -> Listener:
        """A listener that offers whatever a nested method publishes to this log."""

        def take(output: MethodOutput) -> None:
            if output.placement:
                self.offer(dict(output.placement), source)
            if output.bound is not None:
                self.offer_bound(output.bound, source)

        return take

    # --- output ----------------------------------------------------------------------------------

    def output(
        self,
        status: Status,
        stop_reason: StopReason,
        *,
        solver: str = "optplace",
        solver_version: str | None = None,
        message: str = "",
        stats: dict[str, Any] | None = None,
    ) -> MethodOutput:
        """A :class:`MethodOutput` with the incumbent (when ``status`` has a solution) and the bound."""
        has_solution = status.has_solution
        return MethodOutput(
            placement=dict(self.best) if has_solution and self.best is not None else {},
            status=status,
            stop_reason=stop_reason,
            bound=self.bound,
            solver=solver,
            solver_version=solver_version,
            message=message,
            stats=stats or {},
        )

    def trace(self) -> list[dict[str, Any]]:
        """The progress log: one dict per event, oldest first."""
        return list(self.events)

    def summary(self) -> dict[str, Any]:
        """What goes into ``SolveResult.stats``: the trace and where the answer came from."""
        return {
            "progress": self.trace(),
            "incumbent_source": self.best_source,
            "bound_source": self.bound_source,
            "bounds": dict(self.bounds),
            **({"discarded_bounds": dict(self.discarded)} if self.discarded else {}),
            "offers": self.offers,
            "offers_rejected": self.rejected,
        }

    # --- internals -------------------------------------------------------------------------------

    def _publish(self, message: str) -> None:
        if self.listener_at_start is not None:
            self.listener_at_start(self.output(Status.FEASIBLE, StopReason.COMPLETED, message=message))

    def _refutes(self, incumbent: float, bound: float) -> bool:
        tolerance = BOUND_TOLERANCE * max(1.0, abs(incumbent))
        return bound < incumbent - tolerance if self.maximize else bound > incumbent + tolerance

    def _refute_bounds(self) -> None:
        incumbent = self.primary_value()
        assert incumbent is not None
        for source, value in list(self.bounds.items()):
            if self._refutes(incumbent, value):
                self.discarded[source] = value
                del self.bounds[source]

    def _event(self, event: str, source: str = "") -> None:
        record = {
            "time_s": round(self.elapsed(), 4),
            "stage": self.stage_name,
            "event": event,
            "source": source,
            "incumbent": self.primary_value(),
            "bound": self.bound,
            "gap": self.gap(),
        }
        if len(self.events) >= TRACE_LIMIT:
            self.events[TRACE_LIMIT // 2 :] = self.events[TRACE_LIMIT // 2 + 1 :]
        self.events.append(record)
