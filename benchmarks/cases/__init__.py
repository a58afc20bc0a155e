"""Benchmark cases for `make bench`: each module has `cases(ctx) -> Iterable[Line]` (see benchmarks/common.py)."""
