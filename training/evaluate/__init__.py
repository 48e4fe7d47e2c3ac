"""Evaluation of a RUN: the Keras report and figures, the device path, the paper's grids (sweeps)."""
