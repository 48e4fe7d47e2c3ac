"""Fixtures: face (see conftest.py)."""
