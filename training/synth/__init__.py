"""SYNTHETIC data for tests and demos: drawn faces, scenes, label schedules, datasets and videos."""
