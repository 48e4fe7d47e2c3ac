"""Fixtures: models (see conftest.py)."""
