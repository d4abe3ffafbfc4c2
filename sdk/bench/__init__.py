"""Throughput measurement behind `restyle bench`."""
