"""Fixtures: broker (see conftest.py)."""
