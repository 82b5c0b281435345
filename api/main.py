"""The application factory: ``create_app(settings)`` builds the FastAPI app.

Starting the app (its lifespan) opens the job store, starts the solver worker processes and
re-queues stored jobs; stopping it stops the workers (running jobs go back to queued) and closes
the store. ``optplace serve`` runs it under uvicorn; ``uvicorn --factory optplace.api.main:create_app``
does the same with settings from the environment only.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from optplace import __version__
from optplace.api import docs_pages, errors, openapi
from optplace.api.deps import require_token
from optplace.api.extender import PlanKeeper
from optplace.api.guard import RequestGuard
from optplace.api.routes import evaluate, extender, health, jobs, methods, replan, solve, validate
from optplace.api.service import SolveService
from optplace.api.settings import Settings
from optplace.api.store import open_document_store, open_store
from optplace.registry import list_methods

DESCRIPTION = """Place DNN inference applications on shared accelerators so that every hosted
application meets its latency SLO under queueing models. Every placement is re-checked by an
independent evaluator before it is returned. Errors are RFC 9457 `application/problem+json`.
See docs/api.md."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    for module in settings.method_modules:
        importlib.import_module(module)  # so the server lists and accepts their methods too
    list_methods()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await run_in_threadpool(open_store, settings.store_url)
        documents = open_document_store(store)
        service = SolveService(settings, store)
        app.state.service = service
        app.state.extender_plans = PlanKeeper(documents)
        try:
            await run_in_threadpool(service.start)
            yield
        finally:
            await run_in_threadpool(service.stop)
            documents.close()
            store.close()

    app = FastAPI(
        title="optplace",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # docs_pages serves all three from packaged assets
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.parse_limiter = anyio.CapacityLimiter(settings.parse_concurrency)
    errors.install(app)
    openapi.install(app)
    if settings.docs:
        docs_pages.install(app)
    app.add_middleware(RequestGuard, settings=settings)
    if settings.host_allow_list() == ["*"]:
        logging.getLogger("optplace.api").warning(
            "bound to %s with no OPTPLACE_ALLOWED_HOSTS: any Host header is accepted; list the names "
            "clients use to reach this server (docs/api.md, threat model)",
            settings.host,
        )

    protected = [Depends(require_token)] if settings.token is not None else []
    # kube-scheduler cannot send a bearer token: the extender's read-only verbs stay open like health.
    open_routers = [health.router, extender.router]
    for router in open_routers:
        app.include_router(router, prefix="/v1")
    guarded = [
        solve.router,
        jobs.router,
        replan.router,
        validate.router,
        evaluate.router,
        methods.router,
        extender.plans,
    ]
    for router in guarded:
        app.include_router(router, prefix="/v1", dependencies=protected)
    errors.index_routes(app, [("/v1", r) for r in [*open_routers, *guarded]])
    logging.getLogger("optplace.api").setLevel(settings.log_level.upper() if settings.log_level != "trace" else "DEBUG")
    return app
