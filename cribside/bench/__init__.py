"""``cribside bench ...``: timing commands whose figures go into benchmarks/RESULTS.md."""
