"""The classifier's inference graph for export, with the LSTM's input projection done once per window.

Keras' unrolled LSTM multiplies each of the window's latents by the input kernel in
its own step: four passes over a 640 x 4,096 weight matrix per window. Here the
four latents go through that kernel as one (4, 640) batch, which reads the
weights once; the recurrence then runs on the projected rows (the first step's
recurrent product is zero and is skipped, as the converter would). The arithmetic
is the Keras LSTM cell's (gates i, f, c, o; sigmoid and tanh), so the converted
model agrees with Keras; the parity report checks it for every mode.

Only the structure :func:`cribside.training.nets.networks.build_classifier` makes is
rewritten (input -> optional training noise -> one LSTM per head or one shared ->
dropout -> a softmax Dense per head); anything else is exported as Keras calls it.
TensorFlow is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PASS_THROUGH = ("InputLayer", "GaussianNoise", "Dropout")  # no-ops at inference


def fused_classifier(model: Any, heads: tuple[str, ...]) -> Callable[[Any], dict[str, Any]] | None:
    """A function window (1, L, latent) -> {head: probabilities} computing ``model`` with batched
    input projections, or None when ``model`` is not the known classifier structure."""
    lstm_of = _lstm_per_head(model, heads)
    if lstm_of is None:
        return None

    # Weights as arrays now: inside the traced serving function variables cannot be read eagerly.
    cells = {lstm.name: _CellWeights(lstm) for lstm in set(lstm_of.values())}
    dense = {head: (model.get_layer(head).kernel.numpy(), model.get_layer(head).bias.numpy()) for head in heads}

    def run(window: Any) -> dict[str, Any]:
        import tensorflow as tf

        steps = tf.reshape(window, (int(window.shape[1]), int(window.shape[2])))  # batch 1: (L, latent)
        hidden = {name: cell.last_state(tf, steps) for name, cell in cells.items()}
        return {
            head: tf.nn.softmax(tf.matmul(hidden[lstm_of[head].name], tf.constant(dense[head][0]))
                                + tf.constant(dense[head][1]))
            for head in heads
        }

    return run


class _CellWeights:
    """One LSTM's weights as arrays, and its inference over a window."""

    def __init__(self, lstm: Any) -> None:
        self.kernel = lstm.cell.kernel.numpy()
        self.recurrent = lstm.cell.recurrent_kernel.numpy()
        self.bias = lstm.cell.bias.numpy()

    def last_state(self, tf: Any, steps: Any) -> Any:
        """Last hidden state (1, units) over ``steps`` (L, latent), from a zero initial state."""
        projected = tf.matmul(steps, tf.constant(self.kernel)) + tf.constant(self.bias)  # (L, 4 units): one pass
        recurrent = tf.constant(self.recurrent)
        h = c = None
        for t in range(int(steps.shape[0])):
            z = projected[t : t + 1]
            if h is not None:
                z = z + tf.matmul(h, recurrent)
            i, f, g, o = tf.split(z, 4, axis=1)  # Keras' gate order
            i, f, o, g = tf.sigmoid(i), tf.sigmoid(f), tf.sigmoid(o), tf.tanh(g)
            c = i * g if c is None else f * c + i * g
            h = o * tf.tanh(c)
        return h


def _lstm_per_head(model: Any, heads: tuple[str, ...]) -> dict[str, Any] | None:
    """Map each head to the LSTM feeding it, if the model is exactly the known structure."""
    kinds = {type(layer).__name__ for layer in model.layers}
    if not kinds <= {*_PASS_THROUGH, "LSTM", "Dense"}:
        return None
    lstms = [layer for layer in model.layers if type(layer).__name__ == "LSTM"]
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    if sorted(layer.name for layer in dense) != sorted(heads) or not lstms:
        return None
    for lstm in lstms:
        cell = lstm.cell
        if (lstm.return_sequences or lstm.go_backwards or lstm.stateful or not cell.use_bias
                or cell.activation.__name__ != "tanh" or cell.recurrent_activation.__name__ != "sigmoid"):
            return None
    for layer in dense:
        if layer.activation.__name__ != "softmax" or not layer.use_bias:
            return None
    if len(lstms) == 1:
        return {head: lstms[0] for head in heads}
    by_name = {lstm.name: lstm for lstm in lstms}
    if sorted(by_name) != sorted(f"lstm_{head}" for head in heads):
        return None
    return {head: by_name[f"lstm_{head}"] for head in heads}
