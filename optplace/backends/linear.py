"""A solver-neutral mixed-integer linear model in matrix form: what formulations build, back-ends solve.

A :class:`LinearModel` holds variables (bounds, integrality, a name per block), rows ``lo <= A x <= hi``
as one scipy CSR matrix, and a linear objective. Two annotations let each back-end use its best form:

* **Indicator rows.** A row ``A_i x <= hi_i`` may be *enforced* only when a binary ``indicator[i]``
  is 1. Its big-M relaxation for MILP solvers is stored beside it, in ``relax`` (row i holds
  ``M_k`` at the column of each binary ``b_k`` whose value 0 switches the row off):
  ``A_i x <= hi_i + sum_k M_k (1 - b_k)``. :meth:`LinearModel.milp_rows` folds those terms in;
  CP-SAT uses ``OnlyEnforceIf(indicator)`` instead and needs no M.
* **Definitions.** A continuous auxiliary variable ``v`` may be *defined* by an equality row
  ``sum_j c_j x_j - v = 0``. MILP solvers keep it (it keeps the other rows short); CP-SAT, which
  cannot hold a real-valued equality, substitutes it away (:meth:`LinearModel.substitute_definitions`).

Nothing here imports a solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

INF = np.inf


@dataclass
class VariableBlock:
    """A contiguous block of variables of one family, e.g. ``x[a,d]``; ``labels[k]`` names entry k."""

    name: str
    start: int
    stop: int
    labels: list[tuple] = field(default_factory=list)

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass
class RowBlock:
    """A contiguous block of rows of one constraint family."""

    name: str
    start: int
    stop: int


@dataclass
class LinearModel:
    """``min/max c x + c0`` s.t. ``row_lower <= A x <= row_upper``, ``lower <= x <= upper``, some x integer."""

    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    A: sp.csr_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    objective: np.ndarray
    objective_constant: float = 0.0
    maximize: bool = False
    indicator: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # -1: always enforced
    relax: sp.csr_array | None = None  # big-M terms of indicator rows, same shape as A
    defined_var: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    defined_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    variable_blocks: list[VariableBlock] = field(default_factory=list)
    row_blocks: list[RowBlock] = field(default_factory=list)

    @property
    def num_vars(self) -> int:
        return int(self.lower.size)

    @property
    def num_rows(self) -> int:
        return int(self.row_lower.size)

    def block(self, name: str) -> VariableBlock:
        for block in self.variable_blocks:
            if block.name == name:
                return block
        raise KeyError(name)

    def with_objective(self, objective: np.ndarray, constant: float, maximize: bool) -> LinearModel:
        """A shallow copy with another objective (the constraint data is shared, not copied)."""
        copy = LinearModel(**{**self.__dict__})
        copy.objective = np.asarray(objective, dtype=np.float64)
        copy.objective_constant = float(constant)
        copy.maximize = maximize
        return copy

    def with_extra_row(self, coefficients: np.ndarray, lower: float, upper: float) -> LinearModel:
        """A copy with one more always-enforced dense row (used to fix an earlier lexicographic level)."""
        row = sp.csr_array(np.asarray(coefficients, dtype=np.float64).reshape(1, -1))
        copy = LinearModel(**{**self.__dict__})
        copy.A = sp.vstack([self.A, row], format="csr")
        copy.row_lower = np.append(self.row_lower, lower)
        copy.row_upper = np.append(self.row_upper, upper)
        copy.indicator = np.append(self.indicator, -1)
        if self.relax is not None:
            copy.relax = sp.vstack([self.relax, sp.csr_array((1, self.num_vars))], format="csr")
        copy.row_blocks = [*self.row_blocks, RowBlock("lexicographic_fix", self.num_rows, self.num_rows + 1)]
        return copy

    # --- forms for the back-ends ------------------------------------------------------------

    def milp_rows(self) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
        """Rows with every indicator row in big-M form: ``A x + sum M_k b_k <= hi + sum M_k``."""
        if self.relax is None or self.relax.nnz == 0:
            return self.A, self.row_lower, self.row_upper
        total_m = np.asarray(self.relax.sum(axis=1)).ravel()
        return (self.A + self.relax).tocsr(), self.row_lower, self.row_upper + total_m

    def substitute_definitions(self) -> tuple[sp.csr_array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows with every defined auxiliary replaced by its definition, and the definition rows removed.

        Returns ``(A, row_lower, row_upper, indicator, source_rows)``; ``source_rows`` gives each new
        row's original row (a defined variable's finite bounds become a row on its definition, tagged
        with the definition row). Exact: ``v = D x`` so ``A x = A_rest x + A[:, v] D x``.
        """
        if self.defined_var.size == 0:
            keep = np.arange(self.num_rows)
            return self.A, self.row_lower, self.row_upper, self.indicator, keep
        n = self.num_vars
        defined_cols = np.zeros(n, dtype=bool)
        defined_cols[self.defined_var] = True
        # D: one row per defined variable, v_k = D_k x (its definition row with v's own -1 cancelled).
        d = (
            self.A[self.defined_row, :]
            + sp.csr_array(
                (np.ones(self.defined_var.size), (np.arange(self.defined_var.size), self.defined_var)),
                shape=(self.defined_var.size, n),
            )
        ).tocsr()
        d.eliminate_zeros()
        if d[:, np.flatnonzero(defined_cols)].nnz:
            raise ValueError("a definition refers to another defined variable; definitions must be flat")
        keep = np.setdiff1d(np.arange(self.num_rows), self.defined_row)
        a_keep = self.A[keep, :]
        uses = a_keep[:, self.defined_var]
        mask = sp.diags_array((~defined_cols).astype(np.float64)).tocsr()
        substituted = (a_keep @ mask + uses @ d).tocsr()
        # A defined variable's own finite bounds become rows on its definition.
        lo_v, hi_v = self.lower[self.defined_var], self.upper[self.defined_var]
        bounded = np.isfinite(lo_v) | np.isfinite(hi_v)
        row_lower, row_upper = self.row_lower[keep], self.row_upper[keep]
        indicator = self.indicator[keep]
        if bounded.any():
            substituted = sp.vstack([substituted, d[np.flatnonzero(bounded), :]], format="csr")
            row_lower = np.concatenate([row_lower, lo_v[bounded]])
            row_upper = np.concatenate([row_upper, hi_v[bounded]])
            indicator = np.concatenate([indicator, np.full(int(bounded.sum()), -1, dtype=np.int64)])
            keep = np.concatenate([keep, self.defined_row[bounded]])
        substituted.eliminate_zeros()
        return substituted, row_lower, row_upper, indicator, keep

    # --- checks ------------------------------------------------------------------------------

    def max_violation(self, x: np.ndarray) -> float:
        """Largest violation of a bound, an enforced row or integrality by the point ``x``."""
        x = np.asarray(x, dtype=np.float64)
        worst = float(max(np.max(self.lower - x, initial=0.0), np.max(x - self.upper, initial=0.0)))
        a, lo, hi = self.milp_rows()
        activity = a @ x
        worst = max(worst, float(np.max(lo - activity, initial=0.0)), float(np.max(activity - hi, initial=0.0)))
        frac = np.abs(x[self.integer] - np.round(x[self.integer]))
        return max(worst, float(np.max(frac, initial=0.0)))

    def objective_value(self, x: np.ndarray) -> float:
        return float(self.objective @ np.asarray(x, dtype=np.float64) + self.objective_constant)


class ModelBuilder:
    """Accumulates variable blocks and row blocks (as COO triplets) and assembles a :class:`LinearModel`."""

    def __init__(self) -> None:
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self.num_vars = 0
        self.variable_blocks: list[VariableBlock] = []
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._relax_rows: list[np.ndarray] = []
        self._relax_cols: list[np.ndarray] = []
        self._relax_vals: list[np.ndarray] = []
        self._row_lower: list[np.ndarray] = []
        self._row_upper: list[np.ndarray] = []
        self._indicator: list[np.ndarray] = []
        self.num_rows = 0
        self.row_blocks: list[RowBlock] = []
        self._defined_var: list[int] = []
        self._defined_row: list[int] = []

    def add_vars(
        self,
        name: str,
        count: int,
        *,
        lower: float | np.ndarray = 0.0,
        upper: float | np.ndarray = 1.0,
        integer: bool = True,
        labels: list[tuple] | None = None,
    ) -> np.ndarray:
        """Add ``count`` variables; returns their indices."""
        start = self.num_vars
        self._lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (count,)).copy())
        self._upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (count,)).copy())
        self._integer.append(np.full(count, integer, dtype=bool))
        self.num_vars += count
        self.variable_blocks.append(VariableBlock(name, start, self.num_vars, labels or []))
        return np.arange(start, self.num_vars, dtype=np.int64)

    def add_rows(
        self,
        name: str,
        rows: np.ndarray,
        cols: np.ndarray,
        vals: np.ndarray,
        lower: np.ndarray | float,
        upper: np.ndarray | float,
        count: int,
        *,
        indicator: np.ndarray | None = None,
        relax: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Add ``count`` rows given as local COO triplets (``rows`` in ``0..count-1``); returns row indices.

        ``indicator`` (one binary column per row, or -1) and ``relax`` (local rows, columns, M values)
        describe indicator rows: enforced when the indicator is 1, relaxed by ``M (1 - b)`` terms.
        """
        start = self.num_rows
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        vals = np.asarray(vals, dtype=np.float64)
        keep = vals != 0.0
        self._rows.append(rows[keep] + start)
        self._cols.append(np.asarray(cols, dtype=np.int64)[keep])
        self._vals.append(vals[keep])
        self._row_lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (count,)).copy())
        self._row_upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (count,)).copy())
        self._indicator.append(
            np.full(count, -1, dtype=np.int64) if indicator is None else np.asarray(indicator, dtype=np.int64)
        )
        if relax is not None:
            r_rows, r_cols, r_vals = (np.asarray(v) for v in relax)
            self._relax_rows.append(r_rows.astype(np.int64) + start)
            self._relax_cols.append(r_cols.astype(np.int64))
            self._relax_vals.append(r_vals.astype(np.float64))
        self.num_rows += count
        self.row_blocks.append(RowBlock(name, start, self.num_rows))
        return np.arange(start, self.num_rows, dtype=np.int64)

    def define(self, name: str, var: int, cols: np.ndarray, vals: np.ndarray) -> None:
        """Add the equality row ``var = sum vals * x[cols]`` and mark ``var`` as defined by it."""
        cols = np.append(np.asarray(cols, dtype=np.int64), var)
        vals = np.append(np.asarray(vals, dtype=np.float64), -1.0)
        (row,) = self.add_rows(name, np.zeros(cols.size, dtype=np.int64), cols, vals, 0.0, 0.0, 1)
        self._defined_var.append(var)
        self._defined_row.append(int(row))

    def build(self, objective: np.ndarray | None = None) -> LinearModel:
        n, m = self.num_vars, self.num_rows

        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        a = sp.csr_array(
            (cat(self._vals, np.float64), (cat(self._rows, np.int64), cat(self._cols, np.int64))), shape=(m, n)
        )
        a.sum_duplicates()
        relax = None
        if self._relax_rows:
            relax = sp.csr_array(
                (
                    cat(self._relax_vals, np.float64),
                    (cat(self._relax_rows, np.int64), cat(self._relax_cols, np.int64)),
                ),
                shape=(m, n),
            )
            relax.sum_duplicates()
        return LinearModel(
            lower=cat(self._lower, np.float64),
            upper=cat(self._upper, np.float64),
            integer=cat(self._integer, bool),
            A=a,
            row_lower=cat(self._row_lower, np.float64),
            row_upper=cat(self._row_upper, np.float64),
            objective=np.zeros(n) if objective is None else objective,
            indicator=cat(self._indicator, np.int64),
            relax=relax,
            defined_var=np.asarray(self._defined_var, dtype=np.int64),
            defined_row=np.asarray(self._defined_row, dtype=np.int64),
            variable_blocks=self.variable_blocks,
            row_blocks=self.row_blocks,
        )
