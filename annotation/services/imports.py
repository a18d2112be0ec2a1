"""Importing comparisons from a manifest: validate every row first, then write in bulk, all or nothing.

Pass 1 streams the manifest, probes each distinct video once (PyAV + sha256) and collects per-row problems.
Pass 2 streams it again and writes in chunks (a few queries per chunk, not per row) inside one transaction, so
memory stays bounded by the number of distinct videos, not rows, and a failed import leaves nothing behind.
"""

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import MD5

from annotation.manifest import ManifestRow, RowProblem, parse_row, read_manifest
from annotation.models import Comparison, Judgement, Project, Prompt, Video
from annotation.probe import ProbeError, VideoProbe, probe_video
from annotation.services.comparisons import prompt_digest

logger = logging.getLogger(__name__)

CHUNK = 1000
FPS_TOLERANCE = 0.01  # relative: 29.97 declared as 30 is not worth a report


@dataclass
class ImportReport:
    rows: int = 0
    comparisons: int = 0
    judgements: int = 0
    videos: int = 0
    merged_repeats: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    written: bool = False

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "comparisons": self.comparisons,
            "judgements": self.judgements,
            "videos": self.videos,
            "merged_repeats": self.merged_repeats,
            "written": self.written,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
        }


class PathResolver:
    """Resolve manifest paths against the manifest's folder, then the media root; refuse anything that ends up
    outside both after following symlinks."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [r.resolve() for r in roots]

    def resolve(self, text: str) -> tuple[Path | None, str]:
        raw = Path(text)
        candidates = [raw] if raw.is_absolute() else [root / raw for root in self.roots]
        for candidate in candidates:
            if not candidate.exists():
                continue
            real = candidate.resolve()
            if not any(real.is_relative_to(root) for root in self.roots):
                return None, "outside the media root"
            return real, ""
        lexical = [Path(*_normalise(c)) for c in candidates]
        if not any(any(p.is_relative_to(root) for root in self.roots) for p in lexical):
            return None, "outside the media root"
        return None, "missing file"


def _normalise(path: Path) -> list[str]:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if len(parts) > 1:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return parts


@dataclass
class _Video:
    path: Path
    probe: VideoProbe
    generator: str = ""


@dataclass
class _Plan:
    """What pass 1 learned: probed videos by path, rows to skip, and the comparison key of each row."""

    videos: dict[Path, _Video | str] = field(default_factory=dict)
    skip_rows: set[int] = field(default_factory=set)
    first_row_of: dict[tuple[str, str, str], tuple[int, tuple]] = field(default_factory=dict)
    row_videos: dict[int, tuple[_Video, _Video]] = field(default_factory=dict)  # pass 2, one chunk at a time


def _key(prompt: str, sha_a: str, sha_b: str) -> tuple[str, str, str]:
    low, high = sorted((sha_a, sha_b))
    return prompt_digest(prompt), low, high


def _probe(plan: _Plan, path: Path) -> _Video | str:
    if path not in plan.videos:
        try:
            plan.videos[path] = _Video(path=path, probe=probe_video(path))
        except ProbeError as error:
            plan.videos[path] = str(error).split(": ", 1)[-1]
    return plan.videos[path]


def _check_declared(row: ManifestRow, side: str, video: _Video, report: ImportReport) -> None:
    fps = row.fps_a if side == "A" else row.fps_b
    frames = row.frames_a if side == "A" else row.frames_b
    if fps is not None and abs(fps - video.probe.fps) > FPS_TOLERANCE * video.probe.fps:
        report.warnings.append(RowProblem(row.row, f"fps_{side}", f"declared {fps:g}, the file has {video.probe.fps:g}"))
    if frames is not None and frames != video.probe.num_frames:
        report.warnings.append(
            RowProblem(row.row, f"num_frames_{side}", f"declared {frames}, the file has {video.probe.num_frames}")
        )


def _validate(manifest: Path, resolver: PathResolver, report: ImportReport) -> tuple[_Plan, list[tuple]]:
    """Pass 1. Returns the plan and the comparison keys to check against the project."""
    plan = _Plan()
    for number, raw in read_manifest(manifest):
        report.rows += 1
        row, problems = parse_row(raw, number)
        if row is None:
            report.errors.extend(problems)
            plan.skip_rows.add(number)
            continue
        videos = {}
        for side, text, model in (("A", row.path_a, row.model_a), ("B", row.path_b, row.model_b)):
            path, reason = resolver.resolve(text)
            if path is None:
                problems.append(RowProblem(number, f"path_{side}", f"{text}: {reason}"))
                continue
            video = _probe(plan, path)
            if isinstance(video, str):
                problems.append(RowProblem(number, f"path_{side}", f"{text}: {video}"))
                continue
            video.generator = video.generator or model
            videos[side] = video
            _check_declared(row, side, video, report)
        if len(videos) == 2 and videos["A"].probe.sha256 == videos["B"].probe.sha256:
            problems.append(RowProblem(number, "path_B", "the same video is on both sides"))
        if not problems:
            key = _key(row.prompt, videos["A"].probe.sha256, videos["B"].probe.sha256)
            signature = (videos["A"].probe.sha256, tuple(sorted(row.labels.items())))
            first = plan.first_row_of.get(key)
            if first is None:
                plan.first_row_of[key] = (number, signature)
            elif first[1] == signature:
                # The same triplet with the same labels again (VideoAlign's example file repeats rows): merged.
                report.merged_repeats += 1
                report.warnings.append(RowProblem(number, "path_A", f"repeats row {first[0]}; merged"))
                plan.skip_rows.add(number)
                continue
            else:
                problems.append(RowProblem(number, "path_A", f"duplicate comparison (row {first[0]})"))
        if problems:
            report.errors.extend(problems)
            plan.skip_rows.add(number)
    return plan, list(plan.first_row_of)


_EXISTING_SQL = """
SELECT md5(p.text), least(va.sha256, vb.sha256), greatest(va.sha256, vb.sha256)
FROM annotation_comparison c
JOIN annotation_prompt p ON p.id = c.prompt_id
JOIN annotation_video va ON va.id = c.video_a_id
JOIN annotation_video vb ON vb.id = c.video_b_id
WHERE c.project_id = %s AND (md5(p.text), least(va.sha256, vb.sha256), greatest(va.sha256, vb.sha256))
      IN (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))
"""


def _check_existing(project: Project, plan: _Plan, keys: list[tuple], report: ImportReport) -> None:
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        with connection.cursor() as cursor:
            cursor.execute(_EXISTING_SQL, [project.pk, *map(list, zip(*chunk, strict=True))])
            for key in cursor.fetchall():
                row = plan.first_row_of[tuple(key)][0]
                report.errors.append(RowProblem(row, "path_A", "this comparison is already in the project"))
                plan.skip_rows.add(row)


def _media_file(video: _Video) -> str:
    """The file's name under MEDIA_ROOT; files from elsewhere are copied in under their content hash."""
    media_root = Path(settings.MEDIA_ROOT).resolve()
    if video.path.is_relative_to(media_root):
        return str(video.path.relative_to(media_root))
    relative = Path("imports") / video.probe.sha256[:2] / f"{video.probe.sha256}{video.path.suffix.lower()}"
    target = media_root / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video.path, target)
    return str(relative)


def _video_ids(plan: _Plan, paths: set[Path], cache: dict[str, int], report: ImportReport) -> None:
    wanted = {plan.videos[p].probe.sha256: plan.videos[p] for p in paths}
    missing = [sha for sha in wanted if sha not in cache]
    cache.update(Video.objects.filter(sha256__in=missing).values_list("sha256", "id"))
    new = []
    for sha in missing:
        if sha in cache:
            continue
        video = wanted[sha]
        p = video.probe
        new.append(Video(file=_media_file(video), generator=video.generator, fps=p.fps, num_frames=p.num_frames,
                         width=p.width, height=p.height, duration=p.duration, codec=p.codec, sha256=sha))
    for video in Video.objects.bulk_create(new):
        cache[video.sha256] = video.pk
    report.videos += len(new)


def _prompt_ids(project: Project, rows: list[ManifestRow], cache: dict[str, int]) -> None:
    wanted = {prompt_digest(r.prompt): r for r in rows}
    missing = [h for h in wanted if h not in cache]
    existing = Prompt.objects.annotate(h=MD5("text")).filter(project=project, h__in=missing).values_list("h", "id")
    cache.update(existing)
    new = [Prompt(project=project, text=wanted[h].prompt, category=wanted[h].category) for h in missing if h not in cache]
    for prompt in Prompt.objects.bulk_create(new):
        cache[prompt_digest(prompt.text)] = prompt.pk


def _write_chunk(project: Project, plan: _Plan, rows: list[ManifestRow], source: str,
                 videos: dict[str, int], prompts: dict[str, int], report: ImportReport) -> None:
    resolved = [(r, plan.row_videos[r.row]) for r in rows]
    paths = {video.path for _row, pair in resolved for video in pair}
    _video_ids(plan, paths, videos, report)
    _prompt_ids(project, rows, prompts)
    comparisons = Comparison.objects.bulk_create(
        Comparison(
            project=project,
            prompt_id=prompts[prompt_digest(r.prompt)],
            video_a_id=videos[va.probe.sha256],
            video_b_id=videos[vb.probe.sha256],
            remaining=project.overlap,
        )
        for r, (va, vb) in resolved
    )
    judgements = [
        Judgement(comparison=c, source=source, vq=r.labels["VQ"], mq=r.labels["MQ"], ta=r.labels["TA"],
                  overall=r.labels.get("Overall", ""))
        for c, (r, _videos) in zip(comparisons, resolved, strict=True)
        if r.labels
    ]
    Judgement.objects.bulk_create(judgements)
    report.comparisons += len(comparisons)
    report.judgements += len(judgements)


def comparisons_import(
    *,
    project: Project,
    manifest: Path,
    roots: list[Path],
    skip_invalid: bool = False,
    source: str = "imported",
    progress: Callable[[float], None] | None = None,
) -> ImportReport:
    """Import a manifest into `project`. Video paths resolve against `roots` (the manifest's folder and the
    media root) and must stay inside them. All or nothing unless `skip_invalid`."""
    report = ImportReport()
    resolver = PathResolver(roots)
    plan, keys = _validate(manifest, resolver, report)
    _check_existing(project, plan, keys, report)
    report.errors.sort(key=lambda p: (p.row, p.field))
    if report.errors and not skip_invalid:
        return report
    videos: dict[str, int] = {}
    prompts: dict[str, int] = {}
    with transaction.atomic():
        chunk: list[ManifestRow] = []
        for number, raw in read_manifest(manifest):
            if number in plan.skip_rows:
                continue
            row, _ = parse_row(raw, number)
            plan.row_videos[number] = tuple(plan.videos[resolver.resolve(t)[0]] for t in (row.path_a, row.path_b))
            chunk.append(row)
            if len(chunk) == CHUNK:
                _write_chunk(project, plan, chunk, source, videos, prompts, report)
                plan.row_videos.clear()
                chunk = []
                if progress is not None:
                    progress(min(1.0, number / max(report.rows, 1)))
        if chunk:
            _write_chunk(project, plan, chunk, source, videos, prompts, report)
    report.written = True
    if progress is not None:
        progress(1.0)
    logger.info("imported %d comparisons into %s (%d rows)", report.comparisons, project.slug, report.rows)
    return report
