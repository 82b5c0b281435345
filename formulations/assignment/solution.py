"""extract(): solver values -> placement; encode(): placement -> a full solution vector (warm start).

``encode`` writes every auxiliary variable of the model for a given placement: backends, modes
and their cumulative level variables, switch bounds, front-end segments. It picks for every
accelerator the first regime whose rows the placement satisfies, so a placement that is feasible
in the model (always true of the reference it was built around) becomes a complete warm start.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .build import AssignmentModel
from .data import InstanceData

FEASIBILITY_TOLERANCE = 1e-6


def extract(model: AssignmentModel, values: np.ndarray) -> dict[str, str]:
    """The placement a solution vector describes (x > 0.5)."""
    data = model.data
    chosen = np.flatnonzero(np.asarray(values)[model.x] > 0.5)
    return {data.app_names[int(data.pairs.app[j])]: data.accelerators[int(data.pairs.acc[j])].name for j in chosen}


def pairs_of(data: InstanceData, placement: dict[str, str]) -> np.ndarray | None:
    """Pair indices of a placement, or None when it uses a pair the model does not have."""
    lookup = data.pair_lookup()
    out = []
    for app, acc in placement.items():
        key = (data.app_index.get(app, -1), data.acc_index.get(acc, -1))
        if key not in lookup:
            return None
        out.append(lookup[key])
    return np.asarray(sorted(out), dtype=np.int64)


def canonicalize(data: InstanceData, placement: dict[str, str], groups: list[list[int]]) -> dict[str, str]:
    """Permute the contents of interchangeable accelerators so that used ones come first, by load.

    This is the order the symmetry-breaking rows impose (model.md); the result is as feasible as
    the input, since the accelerators of a group are interchangeable.
    """
    if not groups:
        return dict(placement)
    p = data.pairs
    chosen = pairs_of(data, placement)
    if chosen is None:
        return dict(placement)
    load: dict[int, float] = defaultdict(float)
    for j in chosen:
        load[int(p.acc[j])] += float(p.rate[j] * p.service[j])
    rename: dict[str, str] = {}
    for group in groups:
        ordered = sorted(group, key=lambda d: (-load.get(d, 0.0), d))
        for target, source in zip(group, ordered):
            rename[data.accelerators[source].name] = data.accelerators[target].name
    return {app: rename.get(acc, acc) for app, acc in placement.items()}


def encode(model: AssignmentModel, placement: dict[str, str]) -> tuple[np.ndarray | None, str]:
    """A full solution vector for ``placement``, or ``(None, reason)`` when the model cannot hold it."""
    data, lm = model.data, model.model
    p = data.pairs
    chosen = pairs_of(data, placement)
    if chosen is None:
        return None, "the placement uses a pair the model excludes (not feasible alone)"
    vec = np.zeros(lm.num_vars)
    vec[model.x[chosen]] = 1.0
    hosted_on: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(0, dtype=np.int64))
    for d in np.unique(p.acc[chosen]):
        hosted_on[int(d)] = chosen[p.acc[chosen] == d]
        vec[model.y[d]] = 1.0
    for j in chosen:
        if p.shareable[j]:
            vec[model.z[(int(p.model[j]), int(p.acc[j]))]] = 1.0
    # Front-end segment per node: the first whose upper end covers the load.
    node_segment: dict[int, int] = {}
    for n, segments in model.node_segments.items():
        node = data.nodes[n]
        members = np.concatenate([hosted_on[d] for d in node.accelerators]) if node.accelerators else np.zeros(0)
        members = members.astype(np.int64)
        load = float(np.sum(p.rate[members] * p.preprocess[members]) / 1000.0 / node.cores)
        his = np.array([hi for _, hi in segments])
        k = int(np.searchsorted(his, load * (1.0 - 1e-12)))
        if k >= len(segments):
            return None, f"front-end load {load:.4f} of node {node.name!r} exceeds every segment"
        node_segment[n] = k
        vec[model.e[(n, k)]] = 1.0
    # Auxiliaries: definitions and switch bounds.
    for d, am in model.accelerators.items():
        hosted = hosted_on.get(d, np.zeros(0, dtype=np.int64))
        rates: dict[int, float] = defaultdict(float)
        for j in hosted:
            rates[int(am.classes[np.searchsorted(am.pairs, j)])] += float(p.rate[j])
        total = sum(rates.values())
        for m, h in am.h_vars.items():
            if rates.get(m, 0.0) > 0:
                values = [((1 - t) ** 2 * rates[m] + t * t * (total - rates[m]), pick) for t, pick in am.tangent[m]]
                value, pick = min(values)
                vec[h] = value
                if len(values) > 1:
                    vec[pick] = 1.0
        if am.dominant and rates:
            # relaxed switch bound: the largest class is the dominant one
            largest = max(rates, key=lambda c: rates[c])
            key = largest if largest >= 0 else -1
            vec[am.dominant["delta"][key]] = 1.0
            vec[am.dominant["dom"]] = rates[largest]
            vec[am.dominant["total"]] = max(0.0, total - rates[largest])
    _fill_definitions(lm, vec)
    # Regimes: per used accelerator, the first mode whose rows hold.
    owner = model.row_owner
    a, lo, hi = lm.milp_rows()
    choice: dict[int, int] = {}
    for d, am in model.accelerators.items():
        hosted = hosted_on.get(d, np.zeros(0, dtype=np.int64))
        if hosted.size == 0:
            continue
        rows = np.flatnonzero(owner == d)
        sub = a[rows, :]
        found = False
        for index, mode in enumerate(am.modes):
            if mode.fe >= 0 and mode.fe != node_segment.get(data.accelerators[d].node):
                continue
            trial = vec.copy()
            if not _set_mode(trial, mode, hosted):
                continue
            activity = sub @ trial
            if np.all(activity <= hi[rows] + FEASIBILITY_TOLERANCE * np.maximum(1.0, np.abs(hi[rows]))) and np.all(
                activity >= lo[rows] - FEASIBILITY_TOLERANCE * np.maximum(1.0, np.abs(lo[rows]))
            ):
                vec = trial
                choice[d] = index
                found = True
                break
        if not found:
            return None, f"no regime of accelerator {data.accelerators[d].name!r} holds its applications in this model"
    violation = lm.max_violation(vec)
    scale = max(1.0, float(np.max(np.abs(hi[np.isfinite(hi)]), initial=1.0)))
    if violation > FEASIBILITY_TOLERANCE * scale:
        return None, f"the encoded placement violates a row by {violation:.3g}"
    return vec, ""


def _set_mode(vec: np.ndarray, mode, hosted: np.ndarray) -> bool:
    """Switch on ``mode`` for the hosted pairs; False if some hosted pair has no level in it."""
    covered = np.zeros(hosted.size, dtype=bool)
    for chain in mode.chains:
        inside = np.isin(chain.pairs, hosted)  # secondary (occupancy) entries count for the tightest level
        covered |= np.isin(hosted, chain.pairs[~chain.secondary])
        if inside.any():
            tightest = int(chain.level_of[inside].min())
            vec[chain.vars[tightest:]] = 1.0
        elif mode.threshold:
            vec[chain.vars[-1]] = 1.0
    if not covered.all():
        return False
    vec[mode.var] = 1.0
    return True


def _fill_definitions(lm, vec: np.ndarray) -> None:
    """Set each defined auxiliary to the value of its definition."""
    for var, row in zip(lm.defined_var, lm.defined_row):
        start, stop = lm.A.indptr[row], lm.A.indptr[row + 1]
        cols, vals = lm.A.indices[start:stop], lm.A.data[start:stop]
        mask = cols != var
        vec[var] = float(np.dot(vals[mask], vec[cols[mask]]))
