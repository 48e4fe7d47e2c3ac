"""Training: datasets, synthetic data, the paper's autoencoder and LSTM, evaluation.

May import ``cribside.edge`` (the device's exact preprocessing); never imported by it.
TensorFlow is imported lazily, inside the functions that need it.
"""
