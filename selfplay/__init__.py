"""Self-play: many games at once, Ray actors, the replay buffer, expert corpora and the arena (matches and
tournaments between GTP engines, Elo ratings)."""
