"""Trainers, one per stage: sl, rollout, rl, value, zero."""
