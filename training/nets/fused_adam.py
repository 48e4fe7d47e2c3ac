"""Adam with TensorFlow's fused update kernel: the same arithmetic as ``keras.optimizers.Adam``.

Keras 3's Adam updates each variable with about ten separate element-wise
operations, each a pass over the weights. The classifier's LSTM has 6.8 million
weights, so on a 2-core CPU those passes are a large share of a minibatch's time.
TensorFlow's ``ResourceApplyAdam`` does the whole update in one pass with the same
formula (Kingma and Ba's, epsilon added to the square root of the second moment,
bias correction folded into the step size), so results match Keras' Adam up to
float rounding (tests/test_models.py compares them).

Falls back to Keras' own update for what the kernel does not cover: AMSGrad, sparse
gradients, another Keras backend.
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="cribside")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` whose dense updates run as one TensorFlow kernel per variable."""

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        import tensorflow as tf

        if (keras.backend.backend() != "tensorflow" or self.amsgrad or isinstance(gradient, tf.IndexedSlices)
                or not hasattr(variable, "handle")):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype),
        )
        return None
