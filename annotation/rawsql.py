"""Helpers for the raw SQL on hot paths."""

import json


def json_value(value: object) -> object:
    """A jsonb column read through a raw Django cursor arrives as text (Django leaves decoding to JSONField)."""
    return json.loads(value) if isinstance(value, str) else value


def json_safe(value: object) -> object:
    """NaN and infinities become null: PostgreSQL's jsonb (rightly) refuses them, and "not measurable" is what
    they mean in a metrics record (e.g. accuracy without ties when every pair is a tie)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value
