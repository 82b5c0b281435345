"""GET /v1/health: liveness, versions, solver availability, workers and stored jobs. Never needs a token."""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import platform

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from optplace import __version__
from optplace.api.deps import ServiceDep
from optplace.api.schemas import Health, SolverInfo, WorkerInfo

router = APIRouter(tags=["health"])

# module name -> distribution name
SOLVERS = {"highspy": "highspy", "pyomo": "pyomo", "ortools": "ortools"}


@functools.cache
def solver_info(module: str, distribution: str) -> SolverInfo:
    """Whether a solver package is installed, and its version, without importing it (looked up
    once per process: reading package metadata costs milliseconds)."""
    try:
        available = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        available = False
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = None
    return SolverInfo(available=available, version=version if available else None)


@router.get("/health", response_model=Health, summary="Service health, versions and solver availability")
async def health(service: ServiceDep) -> Health:
    workers = service.pool.stats()
    jobs = await run_in_threadpool(service.store.counts)
    return Health(
        status="ok" if workers["alive"] > 0 else "degraded",
        version=__version__,
        python=platform.python_version(),
        solvers={name: solver_info(name, dist) for name, dist in SOLVERS.items()},
        workers=WorkerInfo(**workers),
        store=getattr(service.store, "kind", type(service.store).__name__),
        jobs=jobs,
    )
