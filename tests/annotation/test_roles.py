"""Who may see and do what: the role × endpoint matrix of the REST API, media and admin."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Membership
from tests.annotation.factories import UserFactory, make_comparisons, make_member, make_project

pytestmark = pytest.mark.django_db

ANNOTATOR = Membership.Role.ANNOTATOR
MANAGER = Membership.Role.MANAGER


@pytest.fixture
def world(client_for):
    """Two projects; in the first an annotator holds a lease. Users of every role, each with a client."""
    project, other = make_project(), make_project()
    make_comparisons(project, 2, with_files=True)
    make_comparisons(other, 1, with_files=True)
    users = {
        "holder": make_member(project, ANNOTATOR),
        "annotator": make_member(project, ANNOTATOR),
        "other_annotator": make_member(other, ANNOTATOR),
        "manager": make_member(project, MANAGER),
        "other_manager": make_member(other, MANAGER),
        "staff": UserFactory(is_staff=True),
    }
    clients = {name: client_for(user) for name, user in users.items()} | {"anonymous": client_for(None)}
    lease = clients["holder"].post(f"/api/v1/projects/{project.slug}/next/").json()
    video_url = lease["left"]["url"]
    return project, users, clients, lease, video_url


# role → expected status, per endpoint. 404 (not 403) hides whether a project or object exists.
MATRIX = {
    "next": {"holder": 200, "annotator": 200, "other_annotator": 404, "manager": 404, "other_manager": 404,
             "staff": 404, "anonymous": 401},
    "progress": {"holder": 404, "annotator": 404, "other_annotator": 404, "manager": 200, "other_manager": 404,
                 "staff": 200, "anonymous": 401},
    "quality": {"holder": 404, "annotator": 404, "other_annotator": 404, "manager": 200, "other_manager": 404,
                "staff": 200, "anonymous": 401},
    "video": {"holder": 200, "annotator": 404, "other_annotator": 404, "manager": 200, "other_manager": 404,
              "staff": 200, "anonymous": 401},
    "heartbeat": {"holder": 200, "annotator": 404, "other_annotator": 404, "manager": 404, "other_manager": 404,
                  "staff": 404, "anonymous": 401},
    "projects": {"holder": 200, "annotator": 200, "other_annotator": 200, "manager": 200, "other_manager": 200,
                 "staff": 200, "anonymous": 401},
    "schema": {"holder": 200, "anonymous": 401},
}


def _call(endpoint, client, project, lease, video_url):
    if endpoint == "next":
        return client.post(f"/api/v1/projects/{project.slug}/next/")
    if endpoint == "progress":
        return client.get(f"/api/v1/projects/{project.slug}/progress/")
    if endpoint == "quality":
        return client.get(f"/api/v1/projects/{project.slug}/quality/")
    if endpoint == "video":
        return client.get(video_url)
    if endpoint == "heartbeat":
        return client.post(f"/api/v1/assignments/{lease['id']}/heartbeat/")
    if endpoint == "projects":
        return client.get("/api/v1/projects/")
    if endpoint == "schema":
        return client.get("/api/schema/")
    raise AssertionError(endpoint)


@pytest.mark.parametrize(
    ("endpoint", "role", "expected"),
    [(e, r, s) for e, row in MATRIX.items() for r, s in row.items()],
)
def test_role_endpoint_matrix(world, endpoint, role, expected):
    project, _users, clients, lease, video_url = world
    response = _call(endpoint, clients[role], project, lease, video_url)
    assert response.status_code == expected, (endpoint, role, response.status_code)


def test_skip_and_submit_only_by_the_lease_holder(world):
    _project, _users, clients, lease, _video = world
    body = {"labels": {"VQ": "left", "MQ": "left", "TA": "left"}, "idempotency_key": "x1"}
    for role in ("annotator", "other_annotator", "manager", "staff"):
        for action in ("submit", "skip"):
            response = clients[role].post(f"/api/v1/assignments/{lease['id']}/{action}/", body, format="json")
            assert response.status_code == 404, (role, action)
    for action in ("submit", "skip"):
        assert clients["anonymous"].post(f"/api/v1/assignments/{lease['id']}/{action}/").status_code == 401
    assert clients["holder"].post(f"/api/v1/assignments/{lease['id']}/submit/", body, format="json").status_code == 201


def test_project_list_shows_only_own_projects(world):
    project, _users, clients, _lease, _video = world
    slugs = [row["slug"] for row in clients["annotator"].get("/api/v1/projects/").json()]
    assert slugs == [project.slug]
    staff_slugs = {row["slug"] for row in clients["staff"].get("/api/v1/projects/").json()}
    assert project.slug in staff_slugs and len(staff_slugs) == 2


def test_progress_counts_judgements_per_annotator_for_managers(world):
    project, users, clients, lease, _video = world
    body = {"labels": {"VQ": "left", "MQ": "right", "TA": "tie"}, "idempotency_key": "p1"}
    clients["holder"].post(f"/api/v1/assignments/{lease['id']}/submit/", body, format="json")
    progress = clients["manager"].get(f"/api/v1/projects/{project.slug}/progress/").json()
    assert progress["comparisons"] == {"total": 2, "complete": 1, "untouched": 1, "in_progress": 0, "gold": 0}
    assert progress["annotators"] == [{"username": users["holder"].username, "judgements": 1}]
    assert progress["assignments"]["submitted"] == 1


def test_token_authentication(world):
    project, users, _clients, _lease, _video = world
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": users["annotator"].username,
                                                     "password": "correct-horse-battery"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=users["annotator"]).key == token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post(f"/api/v1/projects/{project.slug}/next/").status_code == 200
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.post(f"/api/v1/projects/{project.slug}/next/").status_code == 401


def test_admin_managers_see_only_their_projects_annotators_are_refused(world, client):
    project, users, _clients, _lease, _video = world
    client.force_login(users["manager"])
    listing = client.get("/admin/annotation/comparison/")
    assert listing.status_code == 200
    shown_projects = {c.project.slug for c in listing.context["cl"].result_list}
    assert shown_projects == {project.slug}
    client.force_login(users["annotator"])
    assert client.get("/admin/annotation/comparison/").status_code == 302  # to the admin login
    client.force_login(users["other_manager"])
    comparison_id = project.comparisons.first().pk
    assert client.get(f"/admin/annotation/comparison/{comparison_id}/change/").status_code in (302, 403, 404)
