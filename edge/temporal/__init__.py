"""Pure stages on source time: sampling frames at the model's rate, the latent window, the alert state machine."""
