"""python manage.py export_dataset --project SLUG --format videoalign|jsonl|parquet --output PATH [filters]"""

from datetime import datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InvalidInput
from annotation.export.records import ExportFilters
from annotation.models import Project
from annotation.services.exports import FORMATS, PATH_MODES, ExportOptions, dataset_export


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise CommandError(f"{text!r} is not an ISO date or time") from error
    if value.tzinfo is None:
        raise CommandError(f"{text!r} needs a time zone (e.g. 2026-11-21T00:00:00+00:00)")
    return value


class Command(BaseCommand):
    help = "Export a project's judgements as a dataset (streamed; written to a temporary name, then renamed)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--format", choices=FORMATS, default="videoalign")
        parser.add_argument("--output", required=True)
        parser.add_argument("--split", action="store_true", help="train/val/test split by prompt")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--since", help="judgements at or after this ISO time")
        parser.add_argument("--until", help="judgements before this ISO time")
        parser.add_argument("--annotators", help="comma-separated usernames to include")
        parser.add_argument("--sources", help='comma-separated judgement sources, e.g. "annotator,imported"')
        parser.add_argument("--min-agreement", type=float, default=0.0)
        parser.add_argument("--exclude-below-gold", type=float, help="drop annotators whose gold accuracy is lower")
        parser.add_argument("--exclude-spammers", action="store_true")
        parser.add_argument("--paths", choices=PATH_MODES, default="linked")
        parser.add_argument("--split-vote", choices=("same", "empty"), default="same")

    def handle(self, *args, **o):
        project = Project.objects.filter(slug=o["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {o['project']!r}")
        annotator_ids: tuple[int, ...] = ()
        if o["annotators"]:
            names = [n.strip() for n in o["annotators"].split(",") if n.strip()]
            found = dict(get_user_model().objects.filter(username__in=names).values_list("username", "pk"))
            unknown = sorted(set(names) - set(found))
            if unknown:
                raise CommandError(f"unknown annotator(s): {', '.join(unknown)}")
            annotator_ids = tuple(found.values())
        filters = ExportFilters(
            since=_time(o["since"]) if o["since"] else None,
            until=_time(o["until"]) if o["until"] else None,
            annotators=annotator_ids,
            sources=tuple(s.strip() for s in (o["sources"] or "").split(",") if s.strip()),
            min_agreement=o["min_agreement"],
        )
        try:
            options = ExportOptions(
                fmt=o["format"], split=o["split"], seed=o["seed"], paths=o["paths"],
                split_vote="" if o["split_vote"] == "empty" else "same", filters=filters,
                exclude_below_gold_accuracy=o["exclude_below_gold"], exclude_spammers=o["exclude_spammers"],
            )
        except InvalidInput as error:
            raise CommandError(f"{error.message} {error.field_errors}") from error
        result = dataset_export(project=project, output=Path(o["output"]), options=options)
        self.stdout.write(
            f"exported {result.comparisons} comparisons ({result.judgements} judgements) to "
            f"{', '.join(result.files)}"
        )
