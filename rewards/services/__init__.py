"""Writes of the reward side (run records, the registry); keyword-only functions named `<noun>_<verb>`."""
