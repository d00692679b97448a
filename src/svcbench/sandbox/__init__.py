"""Simulated companies for the demo, the tests and the benchmarks, with known ground truth.

Only ever served on loopback (127.0.0.1).
"""
