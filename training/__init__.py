"""Trainers, one per stage: sl, rollout, rl, value, zero (issues 6 and 7)."""
