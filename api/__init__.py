"""The HTTP service (FastAPI), installed as ``optplace.api``."""
