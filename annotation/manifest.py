"""Reading import manifests (CSV or JSONL, the VideoAlign layout) row by row, and checking each row's fields.

Columns: `path_A, path_B, prompt` (required); `A_model, B_model, fps_A, fps_B, num_frames_A, num_frames_B,
category` and labels `VQ, MQ, TA, Overall` (optional, each `A`, `B`, `same` or empty).
"""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = ("path_A", "path_B", "prompt")
LABEL_COLUMNS = ("VQ", "MQ", "TA", "Overall")
VALID_LABELS = ("A", "B", "same")


class ManifestError(ValueError):
    """The manifest as a whole cannot be read (wrong format, missing columns)."""


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based data row (the header is row 0)
    field: str
    reason: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class ManifestRow:
    row: int
    path_a: str
    path_b: str
    prompt: str
    model_a: str = ""
    model_b: str = ""
    category: str = ""
    fps_a: float | None = None
    fps_b: float | None = None
    frames_a: int | None = None
    frames_b: int | None = None
    labels: dict[str, str] = field(default_factory=dict)


def _text(raw: dict, name: str) -> str:
    value = raw.get(name)
    return "" if value is None else str(value).strip()


def _number(raw: dict, name: str, row: int, problems: list[RowProblem], kind: type) -> float | int | None:
    text = _text(raw, name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(RowProblem(row, name, f"{text!r} is not a number"))
        return None
    if value <= 0 or (kind is int and value != int(value)):
        problems.append(RowProblem(row, name, f"{text!r} must be a positive {'whole ' if kind is int else ''}number"))
        return None
    return kind(value)


def parse_row(raw: dict, row: int) -> tuple[ManifestRow | None, list[RowProblem]]:
    problems: list[RowProblem] = []
    for name in REQUIRED:
        if not _text(raw, name):
            problems.append(RowProblem(row, name, "empty" if name == "prompt" else "missing"))
    labels = {}
    bad_labels = False
    for name in LABEL_COLUMNS:
        value = _text(raw, name)
        if value and value not in VALID_LABELS:
            problems.append(RowProblem(row, name, f"unknown label {value!r} (expected A, B or same)"))
            bad_labels = True
        elif value:
            labels[name] = value
    if labels and not bad_labels and not all(d in labels for d in ("VQ", "MQ", "TA")):
        missing = [d for d in ("VQ", "MQ", "TA") if d not in labels]
        problems.append(RowProblem(row, missing[0], "labelled rows need VQ, MQ and TA"))
    fps_a = _number(raw, "fps_A", row, problems, float)
    fps_b = _number(raw, "fps_B", row, problems, float)
    frames_a = _number(raw, "num_frames_A", row, problems, int)
    frames_b = _number(raw, "num_frames_B", row, problems, int)
    if problems:
        return None, problems
    parsed = ManifestRow(
        row=row,
        path_a=_text(raw, "path_A"),
        path_b=_text(raw, "path_B"),
        prompt=_text(raw, "prompt"),
        model_a=_text(raw, "A_model"),
        model_b=_text(raw, "B_model"),
        category=_text(raw, "category"),
        fps_a=fps_a,
        fps_b=fps_b,
        frames_a=frames_a,
        frames_b=frames_b,
        labels=labels,
    )
    return parsed, []


def read_manifest(path: Path) -> Iterator[tuple[int, dict]]:
    """(row number, raw fields) for every data row; streaming, so memory does not grow with the file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise ManifestError(f"{path.name}: missing column(s) {', '.join(missing)}")
            for index, raw in enumerate(reader, start=1):
                yield index, raw
    elif suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as handle:
            for index, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ManifestError(f"{path.name}: line {index} is not JSON ({error.msg})") from error
                if not isinstance(raw, dict):
                    raise ManifestError(f"{path.name}: line {index} is not a JSON object")
                yield index, raw
    else:
        raise ManifestError(f"{path.name}: unknown manifest format (use .csv or .jsonl)")
