"""Bad input gets a 4xx with a field-level message and changes nothing."""

import json

import pytest

from annotation.models import Assignment, Comparison, Judgement
from tests.annotation.factories import make_comparisons, make_member, make_project

pytestmark = pytest.mark.django_db

GOOD = {"labels": {"VQ": "left", "MQ": "right", "TA": "tie"}, "idempotency_key": "k-1"}


@pytest.fixture
def leased(client_for):
    project = make_project(asks_mos=False)
    make_comparisons(project, 1)
    annotator = make_member(project)
    client = client_for(annotator)
    shown = client.post(f"/api/v1/projects/{project.slug}/next/").json()
    return project, annotator, client, shown["id"]


def _state():
    return (
        Judgement.objects.count(),
        list(Assignment.objects.values_list("state", flat=True)),
        list(Comparison.objects.values_list("remaining", "judgement_count")),
    )


BAD_BODIES = [
    ({"labels": {"VQ": "left", "MQ": "right", "TA": "sideways"}}, ["errors", "labels", "TA"]),
    ({"labels": {"VQ": "left", "MQ": "right"}}, ["errors", "labels", "TA"]),
    ({"labels": {"VQ": "A", "MQ": "right", "TA": "tie"}}, ["errors", "labels", "VQ"]),
    ({"labels": {"VQ": "left", "MQ": "right", "TA": "tie", "Overall": "left"}}, ["errors", "labels", "Overall"]),
    ({"checklist": {"left": {"VQ": ["not_an_item"]}}}, ["errors", "checklist", "left", "VQ"]),
    ({"checklist": {"middle": {"VQ": ["clarity"]}}}, ["errors", "checklist", "middle"]),
    ({"mos": {"left": {"VQ": 6, "MQ": 3, "TA": 3}, "right": {"VQ": 3, "MQ": 3, "TA": 3}}}, ["errors", "mos"]),
    ({"mos": {"left": {"VQ": 0}}}, ["errors", "mos"]),
    ({"idempotency_key": ""}, ["errors", "idempotency_key"]),
    ({"lead_time_ms": -5}, ["errors", "lead_time_ms"]),
]


@pytest.mark.parametrize(("change", "path"), BAD_BODIES)
def test_bad_submission_is_refused_with_field_message_and_nothing_written(leased, change, path):
    _project, _annotator, client, assignment_id = leased
    before = _state()
    response = client.post(f"/api/v1/assignments/{assignment_id}/submit/", GOOD | change, format="json")
    assert response.status_code == 400, response.content
    node = response.json()
    for key in path:
        assert key in node, (path, response.json())
        node = node[key]
    assert node  # a message, not an empty container
    assert _state() == before


def test_mos_out_of_range_when_the_project_asks_for_it(client_for):
    project = make_project(asks_mos=True)
    make_comparisons(project, 1)
    client = client_for(make_member(project))
    shown = client.post(f"/api/v1/projects/{project.slug}/next/").json()
    mos = {"left": {"VQ": 3, "MQ": 3, "TA": 9}, "right": {"VQ": 3, "MQ": 3, "TA": 3}}
    response = client.post(f"/api/v1/assignments/{shown['id']}/submit/", GOOD | {"mos": mos}, format="json")
    assert response.status_code == 400
    assert "TA" in response.json()["errors"]["mos"]["left"]
    missing = client.post(f"/api/v1/assignments/{shown['id']}/submit/", GOOD, format="json")
    assert missing.status_code == 400 and "mos" in missing.json()["errors"]
    assert Judgement.objects.count() == 0


def test_another_annotators_assignment_is_not_found(leased, client_for):
    project, _owner, _client, assignment_id = leased
    intruder = client_for(make_member(project))
    before = _state()
    for action in ("submit", "skip", "heartbeat"):
        response = intruder.post(f"/api/v1/assignments/{assignment_id}/{action}/", GOOD, format="json")
        assert response.status_code == 404, action
    assert _state() == before


def test_malformed_json_is_refused(leased):
    _project, _annotator, client, assignment_id = leased
    before = _state()
    response = client.generic(
        "POST", f"/api/v1/assignments/{assignment_id}/submit/", '{"labels": {', content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    assert _state() == before


def test_oversized_body_is_refused(leased, settings):
    _project, _annotator, client, assignment_id = leased
    before = _state()
    body = json.dumps(GOOD | {"padding": "x" * (settings.API_MAX_BODY_BYTES + 10)})
    response = client.generic(
        "POST", f"/api/v1/assignments/{assignment_id}/submit/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert _state() == before


def test_unknown_project_is_not_found(leased):
    _project, _annotator, client, _assignment_id = leased
    assert client.post("/api/v1/projects/no-such-project/next/").status_code == 404


def test_unknown_assignment_is_not_found(leased):
    _project, _annotator, client, _assignment_id = leased
    assert client.post("/api/v1/assignments/999999/submit/", GOOD, format="json").status_code == 404


def test_labels_not_an_object_is_refused(leased):
    _project, _annotator, client, assignment_id = leased
    response = client.post(f"/api/v1/assignments/{assignment_id}/submit/", GOOD | {"labels": "left"}, format="json")
    assert response.status_code == 400 and "labels" in response.json()["errors"]
