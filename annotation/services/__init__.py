"""Writes. Keyword-only, typed functions named `<noun>_<verb>`; views call exactly one of them."""
