"""Helpers of bench_streams.py: the measured hub's driver and the footage of the mounts."""
