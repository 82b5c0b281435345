"""Optional dependencies: the light core (library and CLI with HiGHS and OR-Tools) and its extras.

``pip install optplace`` gives the library, the CLI and the HiGHS and CP-SAT methods. The extras
add features, each imported only where it is used:

* ``server``: ``optplace serve`` and ``optplace.api`` (fastapi, uvicorn, httpx, pydantic-settings, psutil,
  sqlalchemy, psycopg, fastapi-offline for the /docs and /redoc assets);
* ``batch``: Dask clusters for ``optplace batch --scheduler``, progress bars, and the plots of
  ``optplace report`` and ``optplace calibrate --plot`` (dask[distributed], tqdm, matplotlib, psutil);
* ``pyomo``: the ``milp_pyomo`` method;
* ``all``: every extra; ``dev``: ``all`` plus the test and lint tools (what the README installs).

:func:`require` imports a module of an extra or raises :class:`~optplace.exceptions.MissingExtraError`
naming the ``pip install 'optplace[extra]'`` line.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from optplace.exceptions import MissingExtraError

EXTRAS: dict[str, tuple[str, ...]] = {
    "server": (
        "fastapi",
        "uvicorn",
        "httpx",
        "pydantic_settings",
        "psutil",
        "sqlalchemy",
        "psycopg",
        "fastapi_offline",
    ),
    "batch": ("distributed", "tqdm", "matplotlib", "psutil"),
    "pyomo": ("pyomo",),
}


def require(module: str, extra: str, feature: str) -> ModuleType:
    """``module`` imported, or :class:`MissingExtraError` saying that ``feature`` needs ``optplace[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.partition(".")[0]
        if error.name is not None and error.name.partition(".")[0] != top:
            raise  # the package is there but one of its own dependencies is broken: show that
        raise MissingExtraError(feature, extra, top) from error


def require_extra(extra: str, feature: str) -> None:
    """Check that every package of ``extra`` imports (for a feature that needs them all, e.g. the server)."""
    for module in EXTRAS[extra]:
        require(module, extra, feature)


def available(module: str) -> bool:
    """Whether ``module`` could be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
