"""Package layout: ``formulations/`` and ``api/`` are required top-level folders of the repository,
but they install as ``optplace.formulations`` and ``optplace.api``, so no generic top-level name
(such as ``api``) lands in users' site-packages. pyproject.toml cannot express "find the
subpackages of a remapped folder", hence this file; all other metadata is in pyproject.toml.
"""

from setuptools import find_packages, setup

REMAPPED = {"optplace.formulations": "formulations", "optplace.api": "api"}

packages = find_packages(include=["optplace", "optplace.*"])
for name, folder in REMAPPED.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(where=folder)]

setup(packages=packages, package_dir={"optplace": "optplace", **REMAPPED})
