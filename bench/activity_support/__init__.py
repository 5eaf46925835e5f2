"""Helpers of bench/bench_activity.py: camera-like streams from real footage, and scoring."""
