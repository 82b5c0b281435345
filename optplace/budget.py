"""Budgets in seconds: wall-clock seconds, or in deterministic mode, *work* measured in seconds.

A :class:`Budget` answers "how much is left?" for a method or a stage of one. Normally that is the
wall clock. With ``params.deterministic`` it is a work counter instead: every piece of work the
method does is *charged* in reference seconds (branch-and-bound nodes, dynamic-programming cells,
simplex iterations, MIP nodes, local-search steps, greedy passes), at the fixed rates below, so the
same input stops at the same point on any machine and the answer is byte-identical. Solver calls
get work limits instead of time limits (HiGHS ``mip_max_nodes`` and ``simplex_iteration_limit``,
CP-SAT ``max_deterministic_time``) and one thread.

The costs were fitted on the development machine (a shared, loaded 2-CPU VM) so that a
deterministic run takes roughly its time limit there; a faster machine finishes sooner, a slower
one later. They are estimates: a solver's root node cannot be cut by a node limit, so a stage may
overrun its share, and the overrun is charged (deterministically) to what comes after.
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

# Reference costs, in seconds of the development machine (fitted by least squares on measured
# runs; see docs/concepts.md, "Deterministic mode"). Each is a deterministic count times a cost.
HEURISTIC_S_PER_APPLICATION = 1e-4  # one greedy construction pass, per application
LOCAL_SEARCH_STEP_S = 6e-5  # one local-search candidate examination, times 1 + ln(1 + accelerators / 20)
PRICING_S_PER_NODE = 5e-6  # configuration pricing: one branch-and-bound node
PRICING_S_PER_EXPLORED = 3.2e-3  # ... one knapsack set up and searched
PRICING_S_PER_SUBPROBLEM = 2e-4  # ... one tightest-member subproblem bounded
PRICING_S_PER_SCENARIO = 4.3e-4  # ... one scenario bounded
PRICING_S_PER_CELL = 5e-9  # ... one dynamic-programming cell
PRICING_S_PER_DP_ITEM = 5.5e-5  # ... one item of a dynamic program (a few vector operations)
HIGHS_S_PER_ITERATION_AND_ROW = 2e-6  # one simplex iteration, per row of the model
HIGHS_S_PER_LP_SOLVE_AND_LINE = 1e-5  # one LP re-solve's fixed part (reading duals and values), per row and column
HIGHS_S_PER_NONZERO = 2e-5  # presolve and root work of a MIP, per matrix nonzero
HIGHS_S_PER_NODE_AND_LINE = 1e-5  # one branch-and-bound node, per row and column
LAGRANGIAN_S_PER_PAIR = 1.7e-5  # one Lagrangian evaluation, per application-accelerator pair
MODEL_BUILD_S_PER_NONZERO = 7e-6  # building an assignment model, per matrix nonzero


def local_search_step_s(accelerators: int) -> float:
    """Reference cost of one local-search step: larger clusters have more candidates per step."""
    return LOCAL_SEARCH_STEP_S * (1.0 + math.log(1.0 + accelerators / 20.0))


def highs_mip_work_s(iterations: int, nodes: int, rows: int, cols: int, nonzeros: int) -> float:
    """Reference seconds of one HiGHS MIP solve, from its deterministic counts."""
    return (
        iterations * rows * HIGHS_S_PER_ITERATION_AND_ROW
        + nonzeros * HIGHS_S_PER_NONZERO
        + nodes * (rows + cols) * HIGHS_S_PER_NODE_AND_LINE
    )


def highs_lp_work_s(iterations: int, rows: int, cols: int) -> float:
    """Reference seconds of one re-solve of a persistent LP, from its deterministic counts."""
    return iterations * rows * HIGHS_S_PER_ITERATION_AND_ROW + (rows + cols) * HIGHS_S_PER_LP_SOLVE_AND_LINE


def highs_iteration_limit(work_s: float, rows: int, cols: int) -> int:
    """Simplex iterations of one LP re-solve worth ``work_s`` (at least 1)."""
    left = work_s - (rows + cols) * HIGHS_S_PER_LP_SOLVE_AND_LINE
    return max(1, int(left / (max(1, rows) * HIGHS_S_PER_ITERATION_AND_ROW)))


ROOT_ITERATIONS_PER_ROW = 3.0  # a generous estimate: roots with cuts were seen to take 0.3-2.5 x rows


def highs_root_work_s(rows: int, cols: int, nonzeros: int) -> float:
    """Reference seconds HiGHS may need before its first branching (presolve, root LP and cut
    rounds, about ``ROOT_ITERATIONS_PER_ROW x rows`` iterations): no node limit can cut this, so a
    deterministic run does not start a MIP that has less left than this."""
    return nonzeros * HIGHS_S_PER_NONZERO + ROOT_ITERATIONS_PER_ROW * rows * rows * HIGHS_S_PER_ITERATION_AND_ROW


def highs_node_limit(work_s: float, rows: int, cols: int, nonzeros: int) -> int:
    """The branch-and-bound nodes a MIP of this size may explore within ``work_s`` (at least 1)."""
    lines = max(1, rows + cols)
    left = work_s - highs_root_work_s(rows, cols, nonzeros)
    per_node = lines * HIGHS_S_PER_NODE_AND_LINE + 20 * rows * HIGHS_S_PER_ITERATION_AND_ROW
    return max(1, int(left / per_node))


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

    def work_limit(self) -> float | None:
        """Work a solver call may do (deterministic mode only; None otherwise)."""
        if not self.deterministic:
            return None
        left = self.left()
        return None if math.isinf(left) else max(left, 0.0)
