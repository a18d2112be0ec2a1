"""Pages: sign-in, the project list, the annotation page and the manager dashboard.

The pages are shells: their scripts talk to the REST API (/api/v1/) with the session cookie and CSRF token.
Who may open which page is decided here, with a page that says why when someone may not.
"""

from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from annotation import selectors
from annotation.checklists import DIMENSION_NAMES
from annotation.models import Membership, Project
from annotation.selectors_frontend import annotator_progress, project_and_role
from frontend.markdown import render_markdown

MANAGER = Membership.Role.MANAGER
ANNOTATOR = Membership.Role.ANNOTATOR


def _project_or_404(request: HttpRequest, slug: str) -> tuple[Project, str]:
    """A project the user has a part in; any other slug is "not found", so that existence is not leaked."""
    found = project_and_role(slug=slug, user=request.user)
    if found is None:
        raise Http404("No such project.")
    return found


def _refused(request: HttpRequest, project: Project, message: str, link: tuple[str, str] | None) -> HttpResponse:
    context = {"project": project, "message": message, "link": link}
    return render(request, "frontend/refused.html", context, status=403)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = selectors.projects_for_user(user=request.user)
    return render(request, "frontend/home.html", {"projects": projects})


@login_required
def annotate(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = _project_or_404(request, slug)
    if role != ANNOTATOR:
        dashboard = (reverse("frontend:dashboard", args=[slug]), "Open the dashboard")
        return _refused(request, project, "You manage this project; only its annotators annotate.", dashboard)
    config = {
        "project": {"slug": project.slug, "name": project.name},
        "dimensionNames": {**DIMENSION_NAMES, "Overall": "All considered"},
        "urls": {
            "next": reverse("api:project-next", args=[slug]),
            "submit": reverse("api:assignment-submit", args=[0]),
            "skip": reverse("api:assignment-skip", args=[0]),
            "heartbeat": reverse("api:assignment-heartbeat", args=[0]),
            "progress": reverse("frontend:annotate-progress", args=[slug]),
            "home": reverse("frontend:home"),
        },
    }
    context = {"project": project, "config": config, "guidelines": render_markdown(project.guidelines)}
    return render(request, "frontend/annotate.html", context)


@login_required
@require_GET
def annotate_progress(request: HttpRequest, slug: str) -> JsonResponse:
    """The annotator's own counters for the top bar. `since` is their local midnight (ISO 8601)."""
    project, role = _project_or_404(request, slug)
    if role != ANNOTATOR:
        return JsonResponse({"detail": "Only annotators of this project have annotation progress."}, status=403)
    since = _parse_since(request.GET.get("since"))
    if since is None:
        return JsonResponse({"detail": "since must be an ISO 8601 date-time with a time zone."}, status=400)
    return JsonResponse(annotator_progress(project=project, user=request.user, since=since))


def _parse_since(raw: str | None) -> datetime | None:
    if not raw:
        return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        value = parse_datetime(raw)
    except ValueError:
        return None
    if value is None or timezone.is_naive(value):
        return None
    return value


@login_required
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = _project_or_404(request, slug)
    if role != MANAGER:
        annotate_link = (reverse("frontend:annotate", args=[slug]), "Go to annotation")
        return _refused(request, project, "The dashboard is for managers of this project.", annotate_link)
    progress = selectors.project_progress(project=project)
    config = {
        "project": {"slug": project.slug, "name": project.name, "overlap": project.overlap},
        "urls": {
            "progress": reverse("api:project-progress", args=[slug]),
            "quality": reverse("api:project-quality", args=[slug]),
            "imports": reverse("api:project-imports", args=[slug]),
            "exports": reverse("api:project-exports", args=[slug]),
            "jobs": reverse("api:project-jobs", args=[slug]),
            "job": reverse("api:job-detail", args=[0]),
            "reward_runs": reverse("rewards:reward-runs", args=[slug]),
            "registry": reverse("rewards:registry", args=[slug]),
            "alignment_runs": reverse("alignment:alignment-runs", args=[slug]),
            "websocket": f"/ws/projects/{slug}/",
        },
        "progress": progress,
    }
    return render(request, "frontend/dashboard.html", {"project": project, "progress": progress, "config": config})
