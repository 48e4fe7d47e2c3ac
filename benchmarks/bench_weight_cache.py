"""How fast one core reads int8 weights, by working-set size: is the int8 classifier memory-bound here?

The int8 classifier reads its 6.8 MB of weights on every call (the 4.2 MB recurrent kernel
three times, once per time step after the first). This script converts small int8 TFLite
models that read one set of weights of a given size three times, like that recurrence, times
them with one thread in LiteRT (XNNPACK, as on the device) and prints the weight bytes
read per second. When the set fits in the cache one core can use, the rate is the cache's;
above it, the memory's: the size where the rate drops tells whether the classifier's weights
(see ``cribside bench models``) stay in cache on this machine.

    python benchmarks/bench_weight_cache.py [--sizes 1 2 4 6 8 12] [--calls 400]

Needs the ``train`` extra (TensorFlow converts the models). Synthetic random weights; nothing
is written to disk. The table goes to stdout, the converter's log lines to stderr.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

PASSES = 3  # the classifier's recurrent kernel is read at time steps 2, 3 and 4
WIDTH = 1024  # the LSTM's units: the recurrent kernel is (1024, 4 x 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 2, 4, 6, 8, 12], help="weight sets, MB")
    parser.add_argument("--calls", type=int, default=400, help="timed calls per model, after 50 warm-up calls")
    args = parser.parse_args()
    from cribside.training.nets.session import prepare_tensorflow

    prepare_tensorflow()
    print(f"int8, 1 thread, {PASSES} passes over the same weights per call; median of {args.calls} calls")
    print("| weights | ms per call | weight bytes read per s |")
    print("|---|---|---|")
    for size in args.sizes:
        model, weight_bytes = _chain_model(size)
        ms = _median_invoke_ms(model, args.calls)
        print(f"| {weight_bytes / 1e6:.1f} MB | {ms:.3f} | {PASSES * weight_bytes / ms / 1e6:.1f} GB/s |", flush=True)


def _chain_model(megabytes: float) -> tuple[bytes, int]:
    """An int8 model (1, WIDTH) -> (1, WIDTH) whose call reads two matrices of ``megabytes`` in all
    ``PASSES`` times (down to ``hidden`` and back up, with tanh between)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    hidden = max(16, int(megabytes * 1e6 / (2 * WIDTH)) // 16 * 16)
    down = tf.constant(rng.normal(scale=0.03, size=(WIDTH, hidden)).astype("float32"))
    up = tf.constant(rng.normal(scale=0.03, size=(hidden, WIDTH)).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec((1, WIDTH), tf.float32)])
    def chain(x):  # noqa: ANN001 - traced by TensorFlow
        for _ in range(PASSES):
            x = tf.tanh(tf.matmul(tf.tanh(tf.matmul(x, down)), up))
        return x

    converter = tf.lite.TFLiteConverter.from_concrete_functions([chain.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.normal(size=(1, WIDTH)).astype("float32")] for _ in range(30))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert(), 2 * WIDTH * hidden


def _median_invoke_ms(model: bytes, calls: int) -> float:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    interpreter.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
    for _ in range(50):
        interpreter.invoke()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e3)


if __name__ == "__main__":
    main()
