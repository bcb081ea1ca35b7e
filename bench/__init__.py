"""Benchmarks for bangfu (`make bench` = `python -m bench`); see bench/README.md."""
