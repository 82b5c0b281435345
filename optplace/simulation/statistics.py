"""Point estimates with batch-means confidence intervals.

One long run per simulation; after the warm-up, each application's requests (in arrival order)
are cut into ``batches`` contiguous batches of equal size. A statistic (the mean, or a
percentile) is computed on all requests for the point estimate and on every batch for the
interval: half-width = t(0.975, B - 1) * sd(batch statistics) / sqrt(B). Batches of consecutive
requests are nearly independent when each is much longer than a busy period, which holds at the
sample sizes used here (thousands of requests per batch); for percentiles the batch statistic
is the batch percentile (the batch-quantile method). Independent replications would need one
warm-up per replication and give the same interval at a higher cost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

MIN_BATCHES = 2


class Estimate(BaseModel):
    """A simulated statistic with its 95% confidence interval (None when too few samples)."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")

    value: float = Field(description="The simulated statistic (ms).")
    ci_low: float | None = Field(description="Lower end of its 95% confidence interval; null when too few samples.")
    ci_high: float | None = Field(description="Upper end of its 95% confidence interval; null when too few samples.")

    @property
    def half_width(self) -> float | None:
        if self.ci_low is None or self.ci_high is None:
            return None
        return 0.5 * (self.ci_high - self.ci_low)


def statistic_function(name: str) -> Callable[[np.ndarray], float]:
    """``'mean'`` or a percentile such as ``'p95'`` / ``'p99.9'`` as a function of a sample."""
    if name == "mean":
        return lambda x: float(np.mean(x))
    if name.startswith("p"):
        q = float(name[1:]) / 100.0
        if 0.0 < q < 1.0:
            return lambda x: float(np.quantile(x, q))
    raise ValueError(f"unknown statistic {name!r}; use 'mean' or a percentile such as 'p95'")


def batch_estimate(values: np.ndarray, statistic: str, batches: int = 20, confidence: float = 0.95) -> Estimate:
    """Point estimate of ``statistic`` over ``values`` with a batch-means confidence interval."""
    f = statistic_function(statistic)
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return Estimate(value=float("nan"), ci_low=None, ci_high=None)
    point = f(values)
    usable = min(batches, values.size // 10)
    if usable < MIN_BATCHES:
        return Estimate(value=point, ci_low=None, ci_high=None)
    from scipy import stats  # here, not at import: result types import Estimate and must stay light

    per_batch = np.array([f(chunk) for chunk in np.array_split(values, usable)])
    spread = float(np.std(per_batch, ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, usable - 1)) * spread / np.sqrt(usable)
    return Estimate(value=point, ci_low=point - half, ci_high=point + half)
