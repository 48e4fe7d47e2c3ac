"""Fixtures: run (see conftest.py)."""
