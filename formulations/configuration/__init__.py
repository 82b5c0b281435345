"""The configuration (column-generation) formulation: feasible sets per accelerator class.

``build.py`` prepares the classes and their data, ``pricing.py`` the knapsack pricing and the exact
set check, ``master.py`` the HiGHS master, and ``method.py`` registers the ``configuration`` method.
The maths is in ``model.md``.
"""
