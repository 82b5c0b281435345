"""Single stations of the simulated cluster, each run on one arrival-sorted array of requests.

The cluster is feed-forward (front end -> network -> accelerator), so every station can be
simulated on its own once its arrival times are known:

* :func:`fcfs_departures` — one queue in arrival order, served one request at a time, with a
  switch overhead paid whenever the previously served request used another backend. It is the
  Lindley recursion ``D_k = max(A_k, D_{k-1}) + S_k``, solved in closed form with prefix sums
  (``D_k = C_k + max_{j<=k}(A_j - C_{j-1})``, ``C`` the cumulative service), so it is fully
  vectorised.
* :func:`ps_departures` — request-level processor sharing on ``servers`` identical servers:
  with ``n`` requests present each is served at rate ``min(1, servers / n)``. Every request
  present gets the same rate, so a single *virtual time* (service received per request) orders
  departures, and a heap of virtual finish tags gives each departure in O(log n).

Times are in milliseconds throughout.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class FcfsRun:
    """Outcome of an FCFS station: per-request departure, effective service and switch flag."""

    departure_ms: FloatArray
    service_ms: FloatArray  # base service plus the switch overhead when one was paid
    switched: NDArray[np.bool_]


def fcfs_departures(
    arrival_ms: FloatArray,
    service_ms: FloatArray,
    backend: IntArray | None = None,
    switch_ms: FloatArray | None = None,
) -> FcfsRun:
    """Serve requests one at a time in arrival order; pay ``switch_ms[k]`` when the backend changes.

    ``arrival_ms`` must be sorted. ``backend[k]`` identifies the model backend of request ``k``
    and ``switch_ms[k]`` the overhead of switching *to* it. The device starts with the first
    request's backend loaded and keeps the last one loaded while idle, as the analytic model
    assumes (a request pays the switch exactly when its predecessor in service order differs).
    """
    arrival = np.asarray(arrival_ms, dtype=np.float64)
    base = np.asarray(service_ms, dtype=np.float64)
    if arrival.shape != base.shape:
        raise ValueError("arrival_ms and service_ms must have the same length")
    if arrival.size and np.any(np.diff(arrival) < 0):
        raise ValueError("arrival_ms must be sorted")
    switched = np.zeros(arrival.size, dtype=bool)
    if backend is not None and arrival.size > 1:
        backend = np.asarray(backend)
        switched[1:] = backend[1:] != backend[:-1]
    service = base if switch_ms is None else base + np.where(switched, np.asarray(switch_ms, dtype=np.float64), 0.0)
    cumulative = np.cumsum(service)
    departure = cumulative + np.maximum.accumulate(arrival - (cumulative - service))
    return FcfsRun(departure, service, switched)


def ps_departures(arrival_ms: FloatArray, size_ms: FloatArray, servers: float = 1.0) -> FloatArray:
    """Departure times under processor sharing with ``servers`` unit-speed servers.

    With ``n`` requests present each one progresses at rate ``min(1, servers / n)``: one server
    is plain egalitarian PS (a time-sliced GPU); ``servers = c > 1`` is a c-core CPU where a
    request never uses more than one core; ``servers < 1`` is a fraction of one core.
    ``arrival_ms`` must be sorted; ``size_ms`` is each request's work at rate 1.
    """
    if servers <= 0:
        raise ValueError("servers must be positive")
    arrival = np.asarray(arrival_ms, dtype=np.float64)
    size = np.asarray(size_ms, dtype=np.float64)
    if arrival.shape != size.shape:
        raise ValueError("arrival_ms and size_ms must have the same length")
    if arrival.size and np.any(np.diff(arrival) < 0):
        raise ValueError("arrival_ms must be sorted")
    n = arrival.size
    arrivals = arrival.tolist()
    sizes = size.tolist()
    departure = [0.0] * n
    heap: list[tuple[float, int]] = []
    push, pop = heapq.heappush, heapq.heappop
    c = float(servers)
    # ``virtual`` is the service each present request has received since the origin of virtual
    # time; a request arriving at virtual time v with work x leaves when virtual time reaches v + x.
    virtual = 0.0
    now = 0.0
    for i in range(n):
        a = arrivals[i]
        while heap:
            k = len(heap)
            rate = c / k if k > c else 1.0
            tag, j = heap[0]
            leave = now + (tag - virtual) / rate
            if leave > a:
                virtual += (a - now) * rate
                break
            pop(heap)
            departure[j] = leave
            now = leave
            virtual = tag
        now = a
        push(heap, (virtual + sizes[i], i))
    while heap:
        k = len(heap)
        rate = c / k if k > c else 1.0
        tag, j = pop(heap)
        now += (tag - virtual) / rate
        virtual = tag
        departure[j] = now
    return np.asarray(departure, dtype=np.float64)
