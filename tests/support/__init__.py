"""What the tests share: fixtures (registered as plugins in tests/conftest.py) and helpers."""
