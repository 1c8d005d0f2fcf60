"""Attacks an insider could run on the bank, measured on synthetic registries.

``join``: RETA's plaintext export joined with what an operator, reviewer or analyst can read
(the database without the custody key, the per-record API routes). Encoding attacks live in
``benchmarks/attack*.py``.
"""
