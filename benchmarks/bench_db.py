"""The benchmarks' own database (`vidpref_bench` on the configured server), so development data is left alone."""

import os


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vidpref")
    return base.rsplit("/", 1)[0] + "/vidpref_bench"


def use_bench_database(*, prepare: bool = True) -> str:
    """Point Django at the bench database and set it up; `prepare` also creates and migrates it."""
    database_url = bench_database_url()
    if prepare:
        from scripts.services import ensure_database_exists

        ensure_database_exists(database_url)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if prepare:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    return database_url
