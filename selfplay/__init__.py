"""Self-play: many games at once, Ray actors, the replay buffer and the arena (issues 5 and 6)."""
