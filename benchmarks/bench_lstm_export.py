"""The classifier's LSTM exported two ways, timed: Keras' unrolled graph vs the batched input projection.

``cribside convert`` exports the classifier through ``convert/lstm_graph.py`` (the window's four
latents through the input kernel as one batch). This script converts the same trained
classifier both ways, in the dynamic-range and int8 modes, and times each with 1 and 2 threads
on zero windows (the arithmetic does not depend on the values).

Usage:
    python benchmarks/bench_lstm_export.py RUN [--calls 400] [--calibration 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training run folder (cribside train)")
    parser.add_argument("--calls", type=int, default=400, help="timed calls per model (after 50 warm-up calls)")
    parser.add_argument("--calibration", type=int, default=300, help="training windows for int8 calibration")
    args = parser.parse_args()

    from ai_edge_litert.interpreter import Interpreter

    from cribside.convert import export
    from cribside.convert.modes import MODES
    from cribside.convert.run_data import calibration_windows
    from cribside.training.fit.run import load_run
    from cribside.training.nets.session import prepare_tensorflow

    prepare_tensorflow()
    run = load_run(args.run)
    scaling, core = export.split_standardization(run.classifier())
    windows = calibration_windows(run, args.calibration, 0)
    windows = scaling.apply(windows) if scaling is not None else windows

    def samples():
        for window in windows:
            yield {export.WINDOW: window[None].astype(np.float32)}

    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, batched in (("Keras unrolled", False), ("batched projection", True)):
            saved = export.export_classifier(core, Path(tmp) / name.replace(" ", "_"), batched=batched)
            for mode in ("dynamic", "int8"):
                models[(mode, name)] = export.convert_saved_model(saved, MODES[mode], samples)

    print("| classifier | graph | 1 thread median / p95 ms | 2 threads median / p95 ms |")
    print("|---|---|---|---|")
    for (mode, name), content in models.items():
        cells = []
        for threads in (1, 2):
            interpreter = Interpreter(model_content=content, num_threads=threads)
            interpreter.allocate_tensors()
            runner = interpreter.get_signature_runner()
            spec = runner.get_input_details()[export.WINDOW]
            window = np.zeros(spec["shape"], spec["dtype"])
            for _ in range(50):
                runner(window=window)
            times = []
            for _ in range(args.calls):
                start = time.perf_counter()
                runner(window=window)
                times.append(time.perf_counter() - start)
            cells.append(f"{np.median(times) * 1e3:.2f} / {np.percentile(times, 95) * 1e3:.2f}")
        print(f"| {mode} | {name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
