"""Training: dataset -> autoencoder -> cached latents -> LSTM classifier -> the RUN folder."""
