"""Benchmarks: `python -m bench NAME` runs `bench/NAME.py`'s `main()`; each prints ratios to a same-run baseline."""
