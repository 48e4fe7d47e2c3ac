"""Datasets: the on-disk layout, loading and validation, preprocessing (face alignment), windows and splits."""
