"""Writers for the three export formats. Each takes rows one at a time and keeps at most one batch."""

import csv
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from annotation.export.aggregate import majority
from annotation.export.records import ComparisonRow, JudgementRow

# Exactly the columns the VideoAlign training and evaluation code read.
VIDEOALIGN_COLUMNS = ("path_A", "path_B", "A_model", "B_model", "prompt", "VQ", "MQ", "TA", "Overall",
                      "fps_A", "num_frames_A", "fps_B", "num_frames_B")
MOS_COLUMNS = ("mos_A_VQ", "mos_A_MQ", "mos_A_TA", "mos_B_VQ", "mos_B_MQ", "mos_B_TA")


class VideoAlignWriter:
    """One row per comparison, labels aggregated by majority; one file per split part."""

    def __init__(self, files: dict[str, Path], *, split_vote: str) -> None:
        self.split_vote = split_vote
        self.handles = {part: path.open("w", newline="", encoding="utf-8") for part, path in files.items()}
        self.writers = {part: csv.writer(handle) for part, handle in self.handles.items()}
        for writer in self.writers.values():
            writer.writerow(VIDEOALIGN_COLUMNS)

    def write(self, row: ComparisonRow, split: str, paths: tuple[str, str]) -> int:
        labels = [majority(row.counts[d], split_vote=self.split_vote) for d in ("VQ", "MQ", "TA", "Overall")]
        self.writers[split].writerow((paths[0], paths[1], row.model_a, row.model_b, row.prompt, *labels,
                                      f"{row.fps_a:.1f}", f"{float(row.frames_a):.1f}",
                                      f"{row.fps_b:.1f}", f"{float(row.frames_b):.1f}"))
        return row.judgements

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


class JsonlWriter:
    def __init__(self, path: Path) -> None:
        self.handle = path.open("w", encoding="utf-8")

    def write(self, row: JudgementRow, split: str, paths: tuple[str, str]) -> int:
        vq, mq, ta, overall = row.labels
        record = {
            "comparison": row.comparison, "judgement": row.judgement, "annotator": row.annotator,
            "source": row.source, "prompt": row.prompt, "path_A": paths[0], "path_B": paths[1],
            "A_model": row.model_a, "B_model": row.model_b, "VQ": vq, "MQ": mq, "TA": ta, "Overall": overall,
            "left": row.left, "checklist": None, "mos": dict(zip(MOS_COLUMNS, row.mos, strict=True)),
            "lead_time_ms": row.lead_time_ms, "created_at": row.created_at, "is_gold": row.is_gold, "split": split,
        }
        # The checklist is already JSON text from PostgreSQL: splice it in rather than parse and re-serialise.
        line = json.dumps(record, separators=(",", ":")).replace('"checklist":null', f'"checklist":{row.checklist_json}', 1)
        self.handle.write(line + "\n")
        return 1

    def close(self) -> None:
        self.handle.close()


_PARQUET_SCHEMA = pa.schema([
    ("comparison", pa.int64()), ("judgement", pa.int64()), ("annotator", pa.string()), ("source", pa.string()),
    ("prompt", pa.string()), ("path_A", pa.string()), ("path_B", pa.string()), ("A_model", pa.string()),
    ("B_model", pa.string()), ("VQ", pa.string()), ("MQ", pa.string()), ("TA", pa.string()),
    ("Overall", pa.string()), ("left", pa.string()),
    ("checklist", pa.string()),  # JSON text: its keys differ per project, and a fixed schema must stay fixed
    *[(name, pa.int16()) for name in MOS_COLUMNS],
    ("lead_time_ms", pa.int64()), ("created_at", pa.string()), ("is_gold", pa.bool_()), ("split", pa.string()),
])


class ParquetWriter:
    """Collects a bounded batch column by column, then appends it as a row group."""

    BATCH = 50_000

    def __init__(self, path: Path) -> None:
        self.writer = pq.ParquetWriter(str(path), _PARQUET_SCHEMA, compression="zstd")
        self._reset()

    def _reset(self) -> None:
        self.columns: list[list] = [[] for _ in _PARQUET_SCHEMA.names]
        self.pending = 0

    def write(self, row: JudgementRow, split: str, paths: tuple[str, str]) -> int:
        values = (row.comparison, row.judgement, row.annotator, row.source, row.prompt, paths[0], paths[1],
                  row.model_a, row.model_b, *row.labels, row.left, row.checklist_json, *row.mos, row.lead_time_ms,
                  row.created_at, row.is_gold, split)
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)
        self.pending += 1
        if self.pending >= self.BATCH:
            self._flush()
        return 1

    def _flush(self) -> None:
        if self.pending:
            arrays = [pa.array(column, type=field.type) for column, field in zip(self.columns, _PARQUET_SCHEMA, strict=True)]
            self.writer.write_table(pa.Table.from_arrays(arrays, schema=_PARQUET_SCHEMA))
            self._reset()

    def close(self) -> None:
        self._flush()
        self.writer.close()


def publish(partials: dict[Path, Path]) -> None:
    """Rename finished files into place; readers never see a half-written export."""
    for partial, final in partials.items():
        os.replace(partial, final)
