"""python manage.py import_comparisons --project SLUG MANIFEST [--media-root DIR] [--skip-invalid]"""

import json as jsonlib
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotation.manifest import ManifestError
from annotation.models import Project
from annotation.services.imports import comparisons_import


class Command(BaseCommand):
    help = "Import comparisons from a CSV or JSONL manifest in the VideoAlign layout."

    def add_arguments(self, parser):
        parser.add_argument("manifest", type=Path)
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--media-root", type=Path, help="folder the video paths are relative to (default: MEDIA_ROOT)")
        parser.add_argument("--skip-invalid", action="store_true", help="import the good rows, report the rest")
        parser.add_argument("--source", default="imported", help="name recorded on judgements from label columns")
        parser.add_argument("--json", action="store_true", help="print the whole report as JSON")

    def handle(self, *args, manifest: Path, project: str, media_root: Path | None, skip_invalid: bool,
               source: str, **options):
        manifest, media_root = Path(manifest), Path(media_root) if media_root else None
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"no project with slug {project!r}")
        if not manifest.is_file():
            raise CommandError(f"{manifest}: no such file")
        roots = [manifest.resolve().parent, (media_root or Path(settings.MEDIA_ROOT)).resolve()]
        try:
            report = comparisons_import(project=target, manifest=manifest, roots=roots, skip_invalid=skip_invalid,
                                        source=source)
        except ManifestError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(jsonlib.dumps(report.as_dict(), indent=2))
        for problem in report.errors:
            self.stderr.write(f"row {problem.row}: {problem.field}: {problem.reason}")
        for problem in report.warnings:
            self.stdout.write(f"warning: row {problem.row}: {problem.field}: {problem.reason}")
        if not report.written:
            raise CommandError(f"{len(report.errors)} invalid row(s); nothing was imported (use --skip-invalid)")
        self.stdout.write(
            f"imported {report.comparisons} comparisons, {report.judgements} judgements, {report.videos} new videos "
            f"from {report.rows} rows ({len(report.errors)} skipped, {report.merged_repeats} repeats merged)"
        )
