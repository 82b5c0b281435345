"""``/docs`` (Swagger UI), ``/redoc`` and ``/openapi.json``, with every asset served by this server.

FastAPI's own pages load Swagger UI, ReDoc, a favicon and Google fonts from CDNs, so they are
blank on a cluster without Internet access. The assets come from the ``fastapi-offline`` package
(MIT; it ships Swagger UI's bundle and CSS, ReDoc's standalone bundle and FastAPI's favicon as
package data, and is kept in step with FastAPI): a pip-installed, versioned copy instead of files
vendored here, so upgrades are a version bump and the server extra stays the only place they come
from. Only its static folder is used; the pages are FastAPI's ``get_swagger_ui_html`` and
``get_redoc_html`` pointed at local URLs, with Swagger UI's online validator badge and ReDoc's
Google fonts turned off (both would reach the Internet).

The pages and the assets are open like ``/v1/health`` (they carry no data; the OpenAPI document
says which routes need the bearer token) but pass the request guard like every route (Host
allow-list, URL length). ``OPTPLACE_DOCS=false`` turns all three off. The OpenAPI document is
built on first request, off the event loop (its examples run the library, :mod:`optplace.api.examples`).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

OPENAPI_URL = "/openapi.json"
ASSETS_URL = "/docs-assets"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"


def assets_folder() -> str:
    """The folder of the packaged Swagger UI and ReDoc files."""
    return str(files("fastapi_offline") / "static")


def install(app: FastAPI) -> None:
    """Serve the OpenAPI document, Swagger UI at /docs and ReDoc at /redoc (create the app with
    ``docs_url=None, redoc_url=None, openapi_url=None``: these replace FastAPI's)."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_folder()), name="docs-assets")

    @app.get(OPENAPI_URL, include_in_schema=False)
    async def openapi_document() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(app.openapi))

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/{SWAGGER_JS}",
            swagger_css_url=f"{root}{ASSETS_URL}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
            # null: no validator badge, which Swagger UI would fetch from validator.swagger.io
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + OPENAPI_URL,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/{REDOC_JS}",
            redoc_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
            with_google_fonts=False,
        )
