"""Helpers for the raw SQL on hot paths."""

import json


def json_value(value: object) -> object:
    """A jsonb column read through a raw Django cursor arrives as text (Django leaves decoding to JSONField)."""
    return json.loads(value) if isinstance(value, str) else value
