"""Formulations: build() makes variables, constraints and objective; extract() reads a placement back."""
