"""Exporting a project's judgements as a training dataset: streamed, filtered, split by prompt, written to
temporary names and renamed into place only when complete."""

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from annotation.errors import InvalidInput
from annotation.export.aggregate import SPLITS, split_of
from annotation.export.records import ExportFilters, stream_comparisons, stream_judgements
from annotation.export.writers import JsonlWriter, ParquetWriter, VideoAlignWriter, publish
from annotation.models import Project
from annotation.selectors_quality import project_quality

logger = logging.getLogger(__name__)

FORMATS = ("videoalign", "jsonl", "parquet")
PATH_MODES = ("linked", "media-root", "absolute")
PROGRESS_EVERY = 2000  # comparisons


@dataclass(frozen=True)
class ExportOptions:
    fmt: str = "videoalign"
    split: bool = False
    seed: int = 0
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_vote: str = "same"  # the label of a comparison whose votes are split evenly ("same" or "")
    paths: str = "linked"  # linked: a media/ folder of links beside the file; media-root: relative to MEDIA_ROOT
    filters: ExportFilters = field(default_factory=ExportFilters)
    exclude_below_gold_accuracy: float | None = None
    exclude_spammers: bool = False

    def __post_init__(self) -> None:
        errors = {}
        if self.fmt not in FORMATS:
            errors["format"] = [f"{self.fmt!r} is not one of {', '.join(FORMATS)}."]
        if self.paths not in PATH_MODES:
            errors["paths"] = [f"{self.paths!r} is not one of {', '.join(PATH_MODES)}."]
        if self.split_vote not in ("same", ""):
            errors["split_vote"] = ["Use 'same' or an empty label."]
        if len(self.fractions) != 3 or min(self.fractions) < 0 or abs(sum(self.fractions) - 1) > 1e-6:
            errors["fractions"] = ["Three non-negative fractions that sum to 1."]
        if not 0 <= self.filters.min_agreement <= 1:
            errors["min_agreement"] = ["A share between 0 and 1."]
        if self.exclude_below_gold_accuracy is not None and not 0 <= self.exclude_below_gold_accuracy <= 1:
            errors["exclude_below_gold_accuracy"] = ["A share between 0 and 1."]
        if errors:
            raise InvalidInput("The export options are not valid.", field_errors=errors)


@dataclass
class ExportResult:
    files: list[str]
    comparisons: int = 0
    judgements: int = 0
    per_split: dict[str, int] = field(default_factory=dict)
    excluded_annotators: int = 0

    def as_dict(self) -> dict:
        return {"files": self.files, "comparisons": self.comparisons, "judgements": self.judgements,
                "per_split": self.per_split, "excluded_annotators": self.excluded_annotators}


class _Paths:
    """How video paths appear in the file (see ExportOptions.paths)."""

    def __init__(self, mode: str, output_dir: Path) -> None:
        self.mode = mode
        self.media_root = Path(settings.MEDIA_ROOT).resolve()
        self.linked_dir = output_dir / "media"
        self.linked: set[str] = set()

    def __call__(self, stored: str) -> str:
        if "://" in stored:
            return stored  # a video kept at a URL
        if self.mode == "absolute":
            return str(self.media_root / stored)
        if self.mode == "media-root":
            return stored
        if stored not in self.linked:
            link = self.linked_dir / stored
            if not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(self.media_root / stored, link)
            self.linked.add(stored)
        return f"media/{stored}"


def _excluded_annotators(project: Project, options: ExportOptions) -> tuple[int, ...]:
    if options.exclude_below_gold_accuracy is None and not options.exclude_spammers:
        return ()
    names = []
    for row in project_quality(project=project)["annotators"]:
        below = (options.exclude_below_gold_accuracy is not None and row["gold_accuracy"] is not None
                 and row["gold_accuracy"] < options.exclude_below_gold_accuracy)
        if below or (options.exclude_spammers and row["spammer"]):
            names.append(row["username"])
    return tuple(get_user_model().objects.filter(username__in=names).values_list("pk", flat=True))


def _targets(output: Path, options: ExportOptions) -> dict[str, Path]:
    if options.fmt == "videoalign" and options.split:
        return {part: output.with_name(f"{output.stem}_{part}{output.suffix or '.csv'}") for part in SPLITS}
    return {"all": output}  # JSONL and Parquet carry the split in a column


def _count(project: Project) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM annotation_judgement j JOIN annotation_comparison c ON c.id = j.comparison_id "
            "WHERE c.project_id = %s", [project.pk])
        return cursor.fetchone()[0]


def dataset_export(
    *, project: Project, output: Path, options: ExportOptions, progress: Callable[[float], None] | None = None
) -> ExportResult:
    excluded = _excluded_annotators(project, options)
    filters = ExportFilters(**{**options.filters.__dict__, "exclude_annotators": options.filters.exclude_annotators + excluded})
    output.parent.mkdir(parents=True, exist_ok=True)
    targets = _targets(output, options)
    partials = {part: path.with_name(path.name + ".partial") for part, path in targets.items()}
    if options.fmt == "videoalign":
        writer = VideoAlignWriter(partials, split_vote=options.split_vote)
        rows = stream_comparisons(project, filters)
    else:
        writer = (JsonlWriter if options.fmt == "jsonl" else ParquetWriter)(partials["all"])
        rows = stream_judgements(project, filters)
    paths = _Paths(options.paths, output.parent)
    result = ExportResult(files=[str(p) for p in targets.values()], per_split=dict.fromkeys(SPLITS, 0),
                          excluded_annotators=len(excluded))
    total = max(_count(project), 1)
    try:
        # One read-only transaction: a consistent snapshot, and the server-side cursor lives inside it.
        with transaction.atomic():
            try:
                last_comparison, part = None, "all"
                for row in rows:
                    if row.comparison != last_comparison:
                        # Rows of one comparison arrive together: split and count once per comparison.
                        last_comparison = row.comparison
                        if options.split:
                            part = split_of(row.prompt, seed=options.seed, fractions=options.fractions)
                            result.per_split[part] += 1
                        result.comparisons += 1
                        if progress is not None and result.comparisons % PROGRESS_EVERY == 0:
                            progress(min(0.99, result.judgements / total))
                    result.judgements += writer.write(row, part, (paths(row.path_a), paths(row.path_b)))
            finally:
                rows.close()  # the server-side cursor must close inside its transaction
        writer.close()
        publish({partials[part]: targets[part] for part in targets})
    except BaseException:
        writer.close()
        for partial in partials.values():
            partial.unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(1.0)
    logger.info("exported %d comparisons (%d judgements) of %s to %s", result.comparisons, result.judgements,
                project.slug, output)
    return result
