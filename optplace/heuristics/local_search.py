"""Local search that improves any feasible placement under the lexicographic objectives.

It starts from a given placement (``options.initial_placement``) or from the best of several
constructions (worst/best/first-fit under several orderings, regret greedy; as many as fit in half
the budget, most promising first), then applies improving
moves until none improves or the time budget is spent:

* **insert** an unplaced application where it fits;
* **eject one to admit two**: take an application x off an accelerator d so that an unplaced u
  fits on d, then re-place x elsewhere or admit a second unplaced application;
* **consolidate**: move every application off a lightly used accelerator to free it
  (``min_accelerators``, ``min_cost``);
* **return home**: move an application back to its current accelerator, making room there by
  moving one other application away if needed (``min_migrations``);
* **relocate** an application to a better accelerator for the objectives (value, cost);
* **rebalance**: relocations and swaps between accelerator types that keep the objectives and
  lower the total normalised load sum(rho / cap), which makes room for later insertions.

Every move is checked with the exact probe of :class:`ClusterState` and kept only when the
objective key improves (or, for rebalancing, stays equal while the load falls), so the search
cannot cycle. The order in which applications and accelerators are examined is shuffled by a
``random.Random(params.seed)``: for a given seed the result is deterministic whenever the search
stops at a local optimum or at ``options.max_rounds``; a wall-clock stop can cut it at different
points, so ``params.deterministic`` replaces the clock by a work budget (:mod:`optplace.budget`:
every examined candidate is one step, every construction a pass over the applications) and the
result is then the same on any machine. The default budget is modest because ``auto`` runs it too:
``params.time_limit_s`` if set (constructions included), else ``min(2, 0.2 + 0.003 * applications)``
seconds in all, except that the first construction always completes; it stops early at a local
optimum.
``stats.trace`` records the objectives after every improving move (improvement over time, the
first 1,000 moves).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import numpy as np
from pydantic import Field

from optplace.budget import HEURISTIC_S_PER_APPLICATION, Budget, local_search_step_s
from optplace.cluster_state import ClusterState, better
from optplace.domain import Instance, Objective
from optplace.heuristics.fit import construct, order_applications, ranked_candidates
from optplace.heuristics.greedy import finish, start
from optplace.heuristics.regret import regret_pass
from optplace.options import MethodOptions, Placement
from optplace.params import SolveParams
from optplace.progress import Throttle, publish, someone_listens
from optplace.registry import MethodOutput, register
from optplace.result import Status, StopReason

_EPS = 1e-9
EJECT_ACCELERATORS = 8  # accelerators examined per unplaced application in an ejection
SECOND_ADMITS = 10  # unplaced applications tried as the second admission
SWAP_ACCELERATORS = 32  # accelerators of other types sampled for swap partners
TRACE_LIMIT = 1000  # improving moves recorded in stats.trace
PUBLISH_INTERVAL_S = 0.5  # an improved placement is published (live incumbents) at most this often


class LocalSearchOptions(MethodOptions):
    """Options of ``local_search``."""

    initial_placement: Placement | None = Field(
        default=None,
        description="Start from this placement (what of it fits) instead of the constructions; "
        "names must exist in the instance.",
    )
    max_rounds: int = Field(
        default=50, ge=0, le=100_000, description="At most this many rounds of improving moves (each bounded)."
    )


def default_budget(n_apps: int) -> float:
    return min(2.0, 0.2 + 0.003 * n_apps)


def potential(state: ClusterState) -> float:
    """Total normalised load sum(rho / cap): lower leaves more room for insertions."""
    return float(np.sum(state.v_util / state.v_cap))


class LocalSearch:
    """One improvement run on a state; moves mutate the state and revert on failure."""

    def __init__(self, state: ClusterState, rng: random.Random, budget: Budget, started: float):
        self.state = state
        self.rng = rng
        self.budget = budget
        self.started = started
        self.timed_out = False
        self.moves = {"insert": 0, "eject": 0, "consolidate": 0, "return_home": 0, "relocate": 0, "rebalance": 0}
        self._insert_tried: dict[int, int] = {}  # app -> number of changes when it last failed
        self.throttle = Throttle(PUBLISH_INTERVAL_S)  # live incumbents: at most this often
        self.step_s = local_search_step_s(state.n_accs)  # work of one step (deterministic mode)
        self.changes = 0
        self.trace: list[dict] = []
        objectives = state.objectives
        self.wants_fewer = Objective.MIN_ACCELERATORS in objectives or Objective.MIN_COST in objectives
        self.wants_home = Objective.MIN_MIGRATIONS in objectives and any(c >= 0 for c in state.app_current)
        self.wants_relocate = Objective.MAX_VALUE in objectives or Objective.MIN_COST in objectives

    # --- helpers -------------------------------------------------------------------------------

    def out_of_time(self) -> bool:
        """One step of work; True once the budget (wall clock, or steps when deterministic) is spent."""
        self.budget.charge(self.step_s)
        if self.budget.expired():
            self.timed_out = True
        return self.timed_out

    def movable(self, a: int) -> bool:
        return not self.state.app_pinned[a]

    def shuffled(self, items: list[int]) -> list[int]:
        items = list(items)
        self.rng.shuffle(items)
        return items

    def place_best(self, a: int, exclude: int = -1) -> int:
        """Put ``a`` on its best feasible accelerator (objective first, then best fit); -1 if none."""
        for d in ranked_candidates(self.state, a, "best"):
            d = int(d)
            if d != exclude and self.state.can_place(a, d):
                self.state.place(a, d)
                return d
        return -1

    def commit(self, name: str) -> None:
        self.moves[name] += 1
        self.changes += 1
        if len(self.trace) < TRACE_LIMIT:
            self.trace.append({**self.snapshot(), "move": name})
        if someone_listens() and self.throttle.ready():
            started = time.perf_counter()
            output = finish(self.state)  # no placement unless it is a solution (host_all, pinned)
            if output.status == Status.FEASIBLE:
                publish(output)
            self.throttle.spent(time.perf_counter() - started)

    def undo(self, placed: list[int], removed: list[tuple[int, int]]) -> None:
        """Revert: take off ``placed`` apps, put ``removed`` (app, accelerator) pairs back."""
        for a in reversed(placed):
            if self.state.assignment[a] >= 0:
                self.state.remove(a)
        for a, d in reversed(removed):
            self.state.place(a, d)

    def accept(self, before: tuple, before_phi: float | None = None) -> bool:
        """Keep a change if the key improved, or (when ``before_phi`` is given) tied and load fell."""
        after = self.state.objective_key()
        if better(after, before):
            return True
        if before_phi is None or better(before, after):
            return False
        return potential(self.state) < before_phi - _EPS

    # --- moves ---------------------------------------------------------------------------------

    def insert(self) -> bool:
        state = self.state
        improved = False
        for a in order_applications(state, "density", state.unplaced()):
            if self.out_of_time():
                break
            if self._insert_tried.get(a) == self.changes or not state.eligible_mask(a).any():
                continue
            before = state.objective_key()
            d = self.place_best(a)
            if d >= 0 and self.accept(before):
                self.commit("insert")
                improved = True
                continue
            if d >= 0:
                state.remove(a)
            self._insert_tried[a] = self.changes
        return improved

    def eject(self) -> bool:
        """Eject one application to admit two (or to admit one while the ejected one moves)."""
        state = self.state
        improved = False
        waiting = order_applications(state, "density", state.unplaced())
        seconds = waiting[: SECOND_ADMITS + 1]
        for u in waiting:
            if self.out_of_time():
                break
            if state.assignment[u] >= 0:
                continue
            eligible = np.flatnonzero(state.eligible_mask(u))
            if eligible.size == 0:
                continue
            rho = state.utilization_after(u)
            closest = eligible[np.argsort(rho[eligible] / state.v_cap[eligible], kind="stable")]
            for d in closest[:EJECT_ACCELERATORS]:
                if self._eject_at(u, int(d), seconds):
                    self.commit("eject")
                    improved = True
                    seconds = order_applications(state, "density", state.unplaced())[: SECOND_ADMITS + 1]
                    break
        return improved

    def _could_replace(self, u: int, x: int, d: int) -> bool:
        """Necessary conditions for u to fit on d once x leaves: sum(lambda s) under the cap, node memory."""
        state = self.state
        s_u = float(state.v_s[state.app_model[u], d])
        s_x = float(state.v_s[state.app_model[x], d])
        load = state.agg[d][1] - state.app_rate[x] * s_x + state.app_rate[u] * s_u
        if load / 1000.0 > state.acc_cap[d] * (1.0 + 1e-8):
            return False
        v = state.acc_node[d]
        freed = state.app_fe_mem[x]
        backend = state.backends[d][state.app_key[x]]
        if len(backend.apps) == 1 and state.acc_dev_limit[d] is None:
            freed += backend.memory
        return state.node_mem[v] - freed + state.app_fe_mem[u] <= state.node_limit[v] * (1.0 + 1e-8)

    def _eject_at(self, u: int, d: int, seconds: list[int]) -> bool:
        state = self.state
        before = state.objective_key()
        for x in self.shuffled([x for x in state.acc_apps[d] if self.movable(x)]):
            if self.out_of_time():
                return False
            if not self._could_replace(u, x, d):
                continue
            state.remove(x)
            if not state.can_place(u, d):
                state.place(x, d)
                continue
            state.place(u, d)
            placed, removed = [u], [(x, d)]
            moved = self.place_best(x)
            if moved >= 0:
                placed.append(x)
            else:
                for v in seconds:
                    if v != x and v != u and state.assignment[v] < 0 and self.place_best(v) >= 0:
                        placed.append(v)
                        break
            if self.accept(before):
                return True
            self.undo(placed, removed)
        return False

    def consolidate(self) -> bool:
        """Empty a lightly used accelerator by moving its applications onto the others."""
        state = self.state
        improved = False
        used = [d for d in range(state.n_accs) if state.acc_apps[d]]
        used.sort(key=lambda d: (len(state.acc_apps[d]), state.util[d] / state.acc_cap[d], d))
        for d in used:
            if self.out_of_time():
                break
            apps = list(state.acc_apps[d])
            if not apps or not all(self.movable(a) for a in apps):
                continue
            before = state.objective_key()
            removed = [(a, d) for a in apps]
            for a in apps:
                state.remove(a)
            placed = []
            ok = True
            for a in order_applications(state, "load", apps):
                if self.place_best(a, exclude=d) < 0:
                    ok = False
                    break
                placed.append(a)
            if ok and self.accept(before):
                self.commit("consolidate")
                improved = True
            else:
                self.undo(placed, removed)
        return improved

    def return_home(self) -> bool:
        """Move applications back to their current accelerator (making room by one move if needed)."""
        state = self.state
        improved = False
        away = [
            a for a in range(state.n_apps) if state.app_current[a] >= 0 and state.assignment[a] != state.app_current[a]
        ]
        for a in self.shuffled(away):
            if self.out_of_time():
                break
            home = state.app_current[a]
            if not state.compatible(a, home) or not state.eligible_mask(a)[home]:
                continue
            before = state.objective_key()
            old = state.assignment[a]
            removed = [(a, old)] if old >= 0 else []
            if old >= 0:
                state.remove(a)
            if state.can_place(a, home):
                state.place(a, home)
                if self.accept(before):
                    self.commit("return_home")
                    improved = True
                    continue
                self.undo([a], removed)
                continue
            done = False
            for x in self.shuffled(
                [x for x in state.acc_apps[home] if self.movable(x) and state.app_current[x] != home]
            ):
                state.remove(x)
                if state.can_place(a, home):
                    state.place(a, home)
                    if self.place_best(x, exclude=home) >= 0 and self.accept(before):
                        done = True
                        break
                    self.undo([x, a], [(x, home)])
                else:
                    state.place(x, home)
            if done:
                self.commit("return_home")
                improved = True
            else:
                self.undo([], removed)
        return improved

    def relocate(self) -> bool:
        """Move an application to an accelerator that is better for the objectives."""
        state = self.state
        improved = False
        placed = [a for a in range(state.n_apps) if state.assignment[a] >= 0 and self.movable(a)]
        for a in self.shuffled(placed):
            if self.out_of_time():
                break
            before = state.objective_key()
            old = state.remove(a)
            d = self.place_best(a, exclude=old)
            if d >= 0 and self.accept(before):
                self.commit("relocate")
                improved = True
                continue
            self.undo([a] if d >= 0 else [], [(a, old)])
        return improved

    def rebalance(self) -> bool:
        """Relocate or swap across accelerator types when that keeps the key and lowers the load."""
        state = self.state
        improved = False
        placed = [a for a in range(state.n_apps) if state.assignment[a] >= 0 and self.movable(a)]
        for a in self.shuffled(placed):
            if self.out_of_time():
                break
            if state.assignment[a] < 0:
                continue
            if self._relocate_lighter(a) or self._swap_lighter(a):
                self.commit("rebalance")
                improved = True
        return improved

    def _load(self, a: int, d: int) -> float:
        return state_load(self.state, a, d)

    def _relocate_lighter(self, a: int) -> bool:
        state = self.state
        old = state.assignment[a]
        here = self._load(a, old)
        mask = state.eligible_mask(a).copy()
        mask[old] = False
        cheaper = np.flatnonzero(mask)
        if cheaper.size == 0:
            return False
        mi = state.app_model[a]
        loads = state.app_rate[a] * state.v_s[mi][cheaper] / 1000.0 / state.v_cap[cheaper]
        cheaper = cheaper[loads < here - _EPS]
        if cheaper.size == 0:
            return False
        before, phi = state.objective_key(), potential(state)
        state.remove(a)
        for d in cheaper[np.argsort(loads[loads < here - _EPS], kind="stable")][:EJECT_ACCELERATORS]:
            d = int(d)
            if state.can_place(a, d):
                state.place(a, d)
                if self.accept(before, phi):
                    return True
                state.remove(a)
        state.place(a, old)
        return False

    def _swap_lighter(self, a: int) -> bool:
        state = self.state
        da = state.assignment[a]
        ta = state.acc_type[da]
        other = np.flatnonzero(state.eligible_mask(a) & state.v_used & (state.v_type != ta))
        if other.size == 0:
            return False
        if other.size > SWAP_ACCELERATORS:
            other = np.array(sorted(self.rng.sample(list(other), SWAP_ACCELERATORS)))
        partners = []
        for db in other.tolist():
            for b in state.acc_apps[db]:
                if self.movable(b) and state.eligible_mask(b)[da]:
                    gain = self._load(a, da) + self._load(b, db) - self._load(a, db) - self._load(b, da)
                    if gain > _EPS:
                        partners.append((-gain, b, db))
        partners.sort()
        for _, b, db in partners[:EJECT_ACCELERATORS]:
            if self.out_of_time():
                return False
            before, phi = state.objective_key(), potential(state)
            state.remove(a)
            state.remove(b)
            placed = []
            if state.can_place(a, db):
                state.place(a, db)
                placed.append(a)
                if state.can_place(b, da):
                    state.place(b, da)
                    placed.append(b)
                    if self.accept(before, phi):
                        return True
            self.undo(placed, [(a, da), (b, db)])
        return False

    # --- driver --------------------------------------------------------------------------------

    def run(self, max_rounds: int) -> list[dict]:
        self.trace = [{**self.snapshot(), "move": "start"}]
        moves: list[Callable[[], bool]] = [self.insert, self.eject]
        if self.wants_home:
            moves.append(self.return_home)
        if self.wants_fewer:
            moves.append(self.consolidate)
        if self.wants_relocate:
            moves.append(self.relocate)
        moves.append(self.rebalance)
        for _ in range(max_rounds):
            improved = False
            for move in moves:
                if self.out_of_time():
                    break
                improved |= move()
            if not improved or self.timed_out:
                break
        return self.trace

    def snapshot(self) -> dict:
        values = self.state.objective_values()
        return {
            "elapsed_s": round(time.perf_counter() - self.started, 6),
            "hosted": self.state.n_placed,
            **{o.value: values[o] for o in self.state.objectives},
        }


def state_load(state: ClusterState, a: int, d: int) -> float:
    """Normalised load lambda s / cap that ``a`` puts on ``d`` (service part, no switch)."""
    return state.app_rate[a] * float(state.v_s[state.app_model[a], d]) / 1000.0 / state.acc_cap[d]


def state_maximizes(instance: Instance) -> bool:
    return not instance.host_all and instance.objectives[0].maximize


def initial_state(
    instance: Instance, params: SolveParams, budget: Budget, given: dict[str, str] | None = None
) -> tuple[ClusterState, str]:
    """The start: a given placement (what fits of it), else the best of several constructions."""
    if given is not None:
        state = ClusterState(instance)
        for a in range(state.n_apps):
            if state.app_pinned[a] and state.can_place(a, state.app_current[a]):
                state.place(a, state.app_current[a])
        state.load({k: v for k, v in dict(given).items() if state.assignment[state.app_index[k]] < 0})
        return state, "initial_placement"
    # Most promising first (measured in benchmarks/results/heuristics.md): spreading load keeps
    # latency slack when hosting as many as possible; packing tight serves minimisation.
    first_rule = "worst" if state_maximizes(instance) else "best"
    recipes: list[tuple[str, str]] = [(first_rule, "auto"), ("regret", "auto"), ("first", "auto")]
    recipes += [("best", "auto"), ("best", "load"), ("best", "density"), ("best", "slack"), ("first", "load")]
    recipes += [("best", "priority"), ("first", "density"), ("worst", "load")]
    best_state, best_name, best_key = None, "", None
    constructing_until = budget.elapsed() + budget.left() / 2
    deadline = time.perf_counter() + budget.left()
    pass_s = len(instance.applications) * HEURISTIC_S_PER_APPLICATION
    for rule, order in recipes:
        if best_state is not None and budget.elapsed() > constructing_until:
            break  # half the budget for constructions, the rest for the search
        # The first construction always completes under the default budget; an explicit time
        # limit cuts it short (the applications it did not reach stay unplaced). A deterministic
        # run never cuts a construction: each counts as one pass of work.
        cut = (
            deadline
            if (params.time_limit_s is not None or best_state is not None) and not budget.deterministic
            else None
        )
        budget.charge(pass_s)
        if rule == "regret":
            state = ClusterState(instance)
            regret_pass(state, start(state, order_applications(state, order)), cut)
        else:
            state = construct(instance, rule, order, deadline=cut)
        key = (*state.objective_key(), -potential(state))
        if best_key is None or better(key, best_key):
            best_state, best_name, best_key = state, f"{rule}/{order}", key
    assert best_state is not None
    return best_state, best_name


def improve(instance: Instance, params: SolveParams) -> tuple[ClusterState, dict, bool]:
    """Run the local search; returns the final state, stats and whether it reached a local optimum."""
    started = time.perf_counter()
    seconds = params.time_limit_s if params.time_limit_s is not None else default_budget(len(instance.applications))
    budget = Budget(seconds, deterministic=params.deterministic, clock=time.perf_counter)
    options = LocalSearchOptions.of(params, instance)
    state, origin = initial_state(instance, params, budget, options.initial_placement)
    initial = state.objective_values()
    search = LocalSearch(state, random.Random(params.seed), budget, started)
    trace = search.run(options.max_rounds)
    stats = {
        "initial": origin,
        "initial_objectives": {o.value: initial[o] for o in state.objectives},
        "moves": search.moves,
        "trace": trace,
        "budget_s": seconds,
        "runtime_s": time.perf_counter() - started,
        **(
            {"work_s": round(budget.elapsed(), 6), "deterministic": not budget.safety_fired}
            if params.deterministic
            else {}
        ),
    }
    return state, stats, not search.timed_out


@register(
    "local_search",
    "Local search from the best construction (or options.initial_placement): insert, eject one to "
    "admit two, consolidate, return home, relocate, swap; deterministic per seed, time-bounded",
    "heuristic",
    options=LocalSearchOptions,
)
def local_search(instance: Instance, params: SolveParams) -> MethodOutput:
    state, stats, converged = improve(instance, params)
    return finish(state, stats, StopReason.COMPLETED if converged else StopReason.TIME_LIMIT)
