"""Packaged calibrations of the cost model (JSON data files, loaded by name)."""
