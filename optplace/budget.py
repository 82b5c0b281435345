"""Budgets in seconds: wall-clock seconds, or in deterministic mode, *work* measured in seconds.

A :class:`Budget` answers "how much is left?" for a method or a stage of one. Normally that is the
wall clock. With ``params.deterministic`` it is a work counter instead: every piece of work the
method does is *charged* in reference seconds (branch-and-bound nodes, dynamic-programming cells,
simplex iterations, MIP nodes, local-search steps, greedy passes), at the fixed rates below, so the
same input stops at the same point on any machine and the answer is byte-identical. Solver calls
get work limits instead of time limits (HiGHS ``mip_max_nodes`` and ``simplex_iteration_limit``,
CP-SAT ``max_deterministic_time``) and one thread.

The rates were measured on the development machine (a shared 2-CPU VM) so that a deterministic
run takes roughly its time limit there; a faster machine finishes sooner, a slower one later.
The wall clock still guards a deterministic run: past ``SAFETY_FACTOR`` times the limit (plus
``SAFETY_EXTRA_S``) it stops like a normal run, and the result says the run was not deterministic
(``stats["deterministic"] == False``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

SAFETY_FACTOR = 3.0
SAFETY_EXTRA_S = 5.0

# Reference rates: units of work per second of budget.
KNAPSACK_NODES_PER_S = 1.5e6  # configuration pricing, pure-Python branch and bound
DP_CELLS_PER_S = 2.0e8  # configuration pricing, vectorised dynamic programming
SIMPLEX_ITERATIONS_PER_S = 2.0e4  # master LP re-solves (a few thousand columns)
MIP_NODES_PER_S = 200.0  # HiGHS branch and bound on a master or assignment model of moderate size
LOCAL_SEARCH_STEPS_PER_S = 2.0e4  # local-search candidate examinations
HEURISTIC_S_PER_APPLICATION = 2.0e-4  # one greedy pass over the applications


class Budget:
    """Seconds a method (or a stage) may spend; see the module docstring.

    ``child(seconds)`` makes a sub-budget whose work is also charged to this one.
    """

    def __init__(
        self,
        seconds: float | None,
        *,
        deterministic: bool = False,
        parent: Budget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.seconds = seconds
        self.deterministic = deterministic
        self.parent = parent
        self.clock = clock
        self.started = clock()
        self.work_s = 0.0
        root = parent.root() if parent is not None else None
        self.safety_deadline: float
        if root is not None:
            self.safety_deadline = root.safety_deadline
        elif deterministic and seconds is not None:
            self.safety_deadline = self.started + SAFETY_FACTOR * seconds + SAFETY_EXTRA_S
        else:
            self.safety_deadline = math.inf
        self._safety_fired = False

    def root(self) -> Budget:
        return self if self.parent is None else self.parent.root()

    @property
    def safety_fired(self) -> bool:
        """A deterministic run that had to stop on the wall clock (so it was not deterministic)."""
        return self.root()._safety_fired

    def elapsed(self) -> float:
        return self.work_s if self.deterministic else self.clock() - self.started

    def left(self) -> float:
        """Seconds (or work) left; infinite without a limit."""
        if self.deterministic and self.clock() > self.safety_deadline:
            self.root()._safety_fired = True
            return 0.0
        if self.seconds is None:
            return math.inf
        return self.seconds - self.elapsed()

    def expired(self) -> bool:
        return self.left() <= 0.0

    def charge(self, seconds: float) -> None:
        """Count ``seconds`` of reference work (deterministic mode; a no-op on the wall clock)."""
        if self.deterministic and seconds > 0:
            self.work_s += seconds
            if self.parent is not None:
                self.parent.charge(seconds)

    def child(self, seconds: float | None) -> Budget:
        """A sub-budget of at most ``seconds`` (and never more than is left here)."""
        left = self.left()
        limit = left if seconds is None else min(seconds, left)
        return Budget(
            None if math.isinf(limit) else max(limit, 0.0),
            deterministic=self.deterministic,
            parent=self,
            clock=self.clock,
        )

    def wall_limit(self) -> float | None:
        """Wall-clock seconds an external solver call may take: what is left, or in deterministic
        mode the time to the safety stop (the call is then bounded by a work limit instead)."""
        if self.deterministic:
            return None if math.isinf(self.safety_deadline) else max(0.05, self.safety_deadline - self.clock())
        left = self.left()
        return None if math.isinf(left) else max(0.0, left)

    def node_limit(self, seconds: float | None = None, rate: float = MIP_NODES_PER_S) -> int | None:
        """A MIP node limit worth ``seconds`` of work (deterministic mode only; None otherwise)."""
        if not self.deterministic:
            return None
        seconds = self.left() if seconds is None else min(seconds, self.left())
        return None if math.isinf(seconds) else max(1, int(seconds * rate))
