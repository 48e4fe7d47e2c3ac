"""Composition: the builder (the only place that names concrete classes), the per-camera loop, the runner
(signals, watchdog, liveness), replay, stats and systemd notifications."""
