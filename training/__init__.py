"""Training: datasets, synthetic data, the paper's autoencoder and LSTM, evaluation.

Along the data flow: ``data`` (layout, loading, validation, preprocessing, windows, splits) ->
``synth`` (SYNTHETIC datasets) -> ``nets`` (the networks) -> ``fit`` (training, the RUN folder) ->
``evaluate`` (reports, the device path, sweeps); ``config`` and ``metrics`` (which takes data's label
names) serve them. Each imports only those before it; the ``cribside`` commands are in ``cribside.commands``.
May import ``cribside.edge`` (the device's exact preprocessing); never imported by it.
TensorFlow is imported lazily, inside the functions that need it.
"""
