"""The compact assignment MILP (maths in ``model.md``): ``build`` makes the model, ``extract`` reads it back.

``prepare(instance)`` collects the alone-feasible (application, accelerator) pairs and their numbers;
``build(data, BuildOptions(...))`` returns an :class:`AssignmentModel` holding a solver-neutral
:class:`~optplace.backends.linear.LinearModel`; ``extract(model, values)`` maps a solution vector to
a placement and ``encode(model, placement)`` writes a placement as a full solution (warm start).
The methods ``milp_highs``, ``milp_pyomo`` and ``cpsat`` live in :mod:`.methods`.
"""

from .build import AssignmentModel, BuildOptions, build
from .data import prepare
from .solution import encode, extract

__all__ = ["AssignmentModel", "BuildOptions", "build", "encode", "extract", "prepare"]
