"""Evaluation prompt suites from CSV files: ../shared/data/prompts (VideoAlign's vbench, videogen_eval,
TA_hard: a `prompt` column, plus `prompt_shorter` in two of them) or any CSV with a prompt column."""
from __future__ import annotations

import csv
from pathlib import Path


def read_prompts(path: str | Path, column: str = "prompt", limit: int | None = None) -> list[str]:
    """The non-blank prompts of `column`, in file order, the first `limit` of them; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompts file not found: {path}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be ≥ 1, got {limit}")
    # utf-8-sig: a spreadsheet's byte-order mark would otherwise become part of the first column's name
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if column not in (reader.fieldnames or []):
            raise ValueError(f"{path}: no column {column!r} (columns: {', '.join(reader.fieldnames or [])})")
        # the suites hold multi-sentence prompts: keep them whole, only trim the ends
        prompts = [text.strip() for row in reader if (text := row[column] or "").strip()]
    if not prompts:
        raise ValueError(f"{path}: no prompt in column {column!r}")
    return prompts[:limit]
