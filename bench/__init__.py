"""Benchmarks and the cost model (`make cost`); figures, never assertions."""
