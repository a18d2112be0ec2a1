"""The pages' server side without a browser: who gets which page, and the annotator's own counters."""

import pytest
from django.test import Client

from annotation.models import Membership
from annotation.services.judgements import SubmittedJudgement, judgement_submit
from tests.annotation.factories import claim, make_comparisons, make_member, make_project

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_project_list_links_each_role_to_its_page():
    annotated, managed = make_project(name="Annotated"), make_project(name="Managed")
    user = make_member(annotated, Membership.Role.ANNOTATOR)
    Membership.objects.create(project=managed, user=user, role=Membership.Role.MANAGER)
    body = signed_in(user).get("/").content.decode()
    assert f"/projects/{annotated.slug}/annotate/" in body
    assert f"/projects/{managed.slug}/dashboard/" in body
    assert f"/projects/{annotated.slug}/dashboard/" not in body


def test_annotator_progress_counts_and_refuses_bad_input():
    project = make_project()
    annotator = make_member(project, Membership.Role.ANNOTATOR)
    client = signed_in(annotator)
    url = f"/projects/{project.slug}/annotate/progress/"
    make_comparisons(project, 3)
    assignment = claim(project, annotator)
    judgement_submit(assignment_id=assignment.pk, annotator=annotator,
                     submission=SubmittedJudgement(labels={"VQ": "left", "MQ": "tie", "TA": "right"}))
    assert client.get(url, {"since": "2020-01-01T00:00:00+00:00"}).json() == {"today": 1, "done": 1, "remaining": 2}
    assert client.get(url, {"since": "2999-01-01T00:00:00+00:00"}).json()["today"] == 0
    bad = client.get(url, {"since": "yesterday"})
    assert bad.status_code == 400 and "ISO 8601" in bad.json()["detail"]
    naive = client.get(url, {"since": "2020-01-01T00:00:00"})
    assert naive.status_code == 400
    manager = make_member(project, Membership.Role.MANAGER)
    assert signed_in(manager).get(url).status_code == 403
    stranger = make_member(make_project(), Membership.Role.ANNOTATOR)
    assert signed_in(stranger).get(url).status_code == 404
