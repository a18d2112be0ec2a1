"""Video files are served with HTTP Range support (browsers seek with Range requests)."""

import pytest
from django.conf import settings

from annotation.api.media import parse_range
from tests.annotation.factories import make_comparisons, make_member, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def served(client_for):
    project = make_project()
    make_comparisons(project, 1, with_files=True)
    manager = client_for(make_member(project, "manager"))
    video = project.comparisons.get().video_a
    data = (settings.MEDIA_ROOT / video.file.name).read_bytes()
    return manager, f"/api/v1/videos/{video.pk}/file/", data


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_whole_file_without_range(served):
    client, url, data = served
    response = client.get(url)
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"
    assert _body(response) == data


def test_explicit_range(served):
    client, url, data = served
    response = client.get(url, HTTP_RANGE="bytes=10-49")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-49/{len(data)}"
    assert response["Content-Length"] == "40"
    assert _body(response) == data[10:50]


def test_open_ended_and_suffix_ranges(served):
    client, url, data = served
    tail = client.get(url, HTTP_RANGE="bytes=100-")
    assert tail.status_code == 206 and _body(tail) == data[100:]
    suffix = client.get(url, HTTP_RANGE="bytes=-64")
    assert suffix.status_code == 206 and _body(suffix) == data[-64:]
    assert suffix["Content-Range"] == f"bytes {len(data) - 64}-{len(data) - 1}/{len(data)}"


def test_range_past_the_end_is_416(served):
    client, url, data = served
    response = client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(data)}"


def test_last_byte_clamped_to_the_file(served):
    client, url, data = served
    response = client.get(url, HTTP_RANGE=f"bytes=5-{len(data) + 1000}")
    assert response.status_code == 206 and _body(response) == data[5:]


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=9-", 10, (9, 9)),
        ("bytes=-20", 10, (0, 9)),
        ("bytes=-0", 10, "unsatisfiable"),
        ("bytes=10-", 10, "unsatisfiable"),
        ("bytes=5-2", 10, None),
        ("bytes=0-1,4-5", 10, None),
        ("items=0-1", 10, None),
    ],
)
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected
