"""The networks: the paper's Keras autoencoder and LSTM, SSIM, the fused Adam, the int8 encoder view, TensorFlow set-up."""
