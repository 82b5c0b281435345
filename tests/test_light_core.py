"""The light core: without the server, batch and pyomo extras the library and CLI import, solve, and name the missing extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT, SEED

# Everything the extras bring (and what they pull in); the core must not need any of it.
BLOCKED = (
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "pydantic_settings",
    "dask",
    "distributed",
    "matplotlib",
    "tqdm",
    "psutil",
    "pyomo",
)

# Installed as sitecustomize, so that every process (the solver children too) refuses the extras.
BLOCKER = textwrap.dedent(
    f"""
    import sys

    class RefuseExtras:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {BLOCKED!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the light-core test)", name=name)
            return None

    sys.meta_path.insert(0, RefuseExtras())
    """
)

CORE_SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import optplace
    import optplace.formulations

    skipped = []
    for package in (optplace, optplace.formulations):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.startswith("optplace.api") or module.name.endswith("__main__"):
                skipped.append(module.name)
                continue
            importlib.import_module(module.name)
    result = optplace.solve(optplace.read(sys.argv[1]), "auto", {"time_limit_s": 3, "threads": 1})
    leaked = sorted({name.partition(".")[0] for name in sys.modules} & set(sys.argv[2].split(",")))
    print(json.dumps({"status": result.status.value, "hosted": result.hosted, "leaked": leaked}))
    """
)


@pytest.fixture(scope="module")
def light_env(tmp_path_factory) -> dict[str, str]:
    """An environment whose Python processes cannot import any extra."""
    site = tmp_path_factory.mktemp("light-core")
    (site / "sitecustomize.py").write_text(BLOCKER)
    return {**os.environ, "PYTHONPATH": str(site)}


def run(env: dict[str, str], *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, **kwargs
    )


@pytest.mark.slow
def test_core_imports_and_solves_without_extras(light_env) -> None:
    """Every module but optplace.api imports, and auto solves a seed workload, with every extra refused."""
    blocked = ",".join(BLOCKED)
    assert run(light_env, "-c", "import fastapi").returncode != 0  # the blocker works
    out = run(light_env, "-c", CORE_SCRIPT, str(SEED[0]), blocked)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] in ("optimal", "feasible") and summary["hosted"] > 0 and summary["leaked"] == []


def test_cli_names_the_missing_extra(light_env) -> None:
    """`optplace serve` and the pyomo method say which extra to install; validate works on the core alone."""
    serve = run(light_env, "-m", "optplace", "serve", "--port", "0")
    assert serve.returncode == 2 and "pip install 'optplace[server]'" in serve.stderr
    pyomo = run(light_env, "-m", "optplace", "solve", str(SEED[0]), "-m", "milp_pyomo", "--time-limit", "2")
    assert pyomo.returncode == 1 and "pip install 'optplace[pyomo]'" in pyomo.stdout
    validate = run(light_env, "-m", "optplace", "validate", str(SEED[0]), "-qq")
    assert validate.returncode == 0, validate.stderr
