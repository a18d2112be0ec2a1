"""Writers for the three export formats. Each takes comparison records one at a time and keeps nothing else."""

import csv
import json
import os
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from annotation.export.aggregate import agreement, majority
from annotation.export.records import ComparisonRecord

# Exactly the columns the VideoAlign training and evaluation code read.
VIDEOALIGN_COLUMNS = ("path_A", "path_B", "A_model", "B_model", "prompt", "VQ", "MQ", "TA", "Overall",
                      "fps_A", "num_frames_A", "fps_B", "num_frames_B")
DIMENSIONS = ("VQ", "MQ", "TA")


def comparison_agreement(record: ComparisonRecord) -> float:
    return sum(agreement([j.labels[d] for j in record.judgements]) for d in DIMENSIONS) / len(DIMENSIONS)


class Writer(Protocol):
    def write(self, record: ComparisonRecord, split: str, paths: tuple[str, str]) -> int:
        """Write one comparison; returns how many judgements it carried."""
    def close(self) -> None: ...


class VideoAlignWriter:
    """One row per comparison, labels aggregated by majority; one file per split part."""

    def __init__(self, files: dict[str, Path], *, split_vote: str) -> None:
        self.split_vote = split_vote
        self.handles = {part: path.open("w", newline="", encoding="utf-8") for part, path in files.items()}
        self.writers = {part: csv.writer(handle) for part, handle in self.handles.items()}
        for writer in self.writers.values():
            writer.writerow(VIDEOALIGN_COLUMNS)

    def write(self, record: ComparisonRecord, split: str, paths: tuple[str, str]) -> int:
        labels = {d: majority([j.labels[d] for j in record.judgements], split_vote=self.split_vote)
                  for d in (*DIMENSIONS, "Overall")}
        writer = self.writers.get(split) or self.writers["all"]
        writer.writerow((paths[0], paths[1], record.model_a, record.model_b, record.prompt,
                         labels["VQ"], labels["MQ"], labels["TA"], labels["Overall"],
                         f"{record.fps_a:.1f}", f"{float(record.frames_a):.1f}",
                         f"{record.fps_b:.1f}", f"{float(record.frames_b):.1f}"))
        return len(record.judgements)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def judgement_rows(record: ComparisonRecord, split: str, paths: tuple[str, str]) -> list[dict]:
    return [
        {
            "comparison": record.comparison,
            "judgement": j.judgement,
            "annotator": j.annotator,
            "source": j.source,
            "prompt": record.prompt,
            "path_A": paths[0],
            "path_B": paths[1],
            "A_model": record.model_a,
            "B_model": record.model_b,
            "VQ": j.labels["VQ"],
            "MQ": j.labels["MQ"],
            "TA": j.labels["TA"],
            "Overall": j.labels["Overall"],
            "left": j.left,
            "checklist": j.checklist,
            "mos": j.mos,
            "lead_time_ms": j.lead_time_ms,
            "created_at": j.created_at.isoformat(),
            "is_gold": record.is_gold,
            "split": split,
        }
        for j in record.judgements
    ]


class JsonlWriter:
    def __init__(self, path: Path) -> None:
        self.handle = path.open("w", encoding="utf-8")

    def write(self, record: ComparisonRecord, split: str, paths: tuple[str, str]) -> int:
        rows = judgement_rows(record, split, paths)
        self.handle.writelines(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)
        return len(rows)

    def close(self) -> None:
        self.handle.close()


_PARQUET_SCHEMA = pa.schema([
    ("comparison", pa.int64()), ("judgement", pa.int64()), ("annotator", pa.string()), ("source", pa.string()),
    ("prompt", pa.string()), ("path_A", pa.string()), ("path_B", pa.string()), ("A_model", pa.string()),
    ("B_model", pa.string()), ("VQ", pa.string()), ("MQ", pa.string()), ("TA", pa.string()),
    ("Overall", pa.string()), ("left", pa.string()),
    ("checklist", pa.string()),  # JSON text: its keys differ per project, and a fixed schema must stay fixed
    *[(f"mos_{key}", pa.int16()) for key in ("A_VQ", "A_MQ", "A_TA", "B_VQ", "B_MQ", "B_TA")],
    ("lead_time_ms", pa.int64()), ("created_at", pa.string()), ("is_gold", pa.bool_()), ("split", pa.string()),
])


class ParquetWriter:
    """Buffers a bounded batch of rows, then appends a row group."""

    BATCH = 50_000

    def __init__(self, path: Path) -> None:
        self.writer = pq.ParquetWriter(str(path), _PARQUET_SCHEMA, compression="zstd")
        self.columns: dict[str, list] = {name: [] for name in _PARQUET_SCHEMA.names}
        self.pending = 0

    def write(self, record: ComparisonRecord, split: str, paths: tuple[str, str]) -> int:
        rows = judgement_rows(record, split, paths)
        for row in rows:
            mos = row.pop("mos")
            row["checklist"] = json.dumps(row["checklist"], separators=(",", ":"))
            for key, value in mos.items():
                row[f"mos_{key}"] = value
            for name, value in row.items():
                self.columns[name].append(value)
        self.pending += len(rows)
        if self.pending >= self.BATCH:
            self._flush()
        return len(rows)

    def _flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.Table.from_pydict(self.columns, schema=_PARQUET_SCHEMA))
            self.columns = {name: [] for name in _PARQUET_SCHEMA.names}
            self.pending = 0

    def close(self) -> None:
        self._flush()
        self.writer.close()


def publish(partials: dict[Path, Path]) -> None:
    """Rename finished files into place; readers never see a half-written export."""
    for partial, final in partials.items():
        os.replace(partial, final)
