"""Fixtures: data (see conftest.py)."""
