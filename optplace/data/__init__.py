"""Measured data shipped with optplace (each folder has its README with source and licence)."""
