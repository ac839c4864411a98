"""Rules, features, patterns, rollouts and search: Numba kernels with thin Python wrappers (no torch, no ray)."""
