"""Drive simulated annotators through the platform's REST API (token → next → submit, until 204).

The annotator is not told which file it is shown: it downloads each video (cached by URL) and looks its
sha256 up in the dataset's oracle.csv, as a human would recognise quality by watching. A video the dataset
does not know (one a generator made, in the feedback loop) is skipped, or, with `perceive_unknown`, watched
through the pixel analyser: its estimated defects and utilities stand in for the truth. The decision itself
is `synthetic.annotators.decide`; `submission_payload` turns it into the API's JSON. Standard library only,
except the analyser (numpy, PyAV), imported when an unknown video is first perceived.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin

from synthetic.annotators import AnnotatorProfile, Decision, ShownVideo, annotator_profile, decide
from synthetic.dataset import OracleEntry
from synthetic.render import rng_for

logger = logging.getLogger(__name__)


class ApiError(RuntimeError):
    """An unexpected answer from the platform."""


@dataclass(frozen=True)
class AnnotatorSpec:
    username: str
    password: str
    kind: str

    @classmethod
    def parse(cls, text: str) -> AnnotatorSpec:
        """USER:PASS:TYPE (the password may not contain ':')."""
        parts = text.split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"annotator must be USER:PASS:TYPE, got {text!r}")
        annotator_profile(parts[2])
        return cls(*parts)


@dataclass
class RunSummary:
    username: str
    kind: str
    submitted: int = 0
    skipped: int = 0
    lost_leases: int = 0
    labels: Counter = field(default_factory=Counter)


def submission_payload(decision: Decision, asks_mos: bool, idempotency_key: str) -> dict:
    """The submit body of the API contract for one decision."""
    payload: dict = {
        "labels": dict(decision.labels),
        "checklist": {side: {dim: list(keys) for dim, keys in dims.items()} for side, dims in decision.checklist.items()},
        "lead_time_ms": int(decision.lead_time_ms),
        "idempotency_key": idempotency_key,
    }
    if asks_mos:
        if decision.mos is None:
            raise ValueError("the assignment asks for MOS but the decision has none")
        payload["mos"] = decision.mos
    return payload


def decide_assignment(
    profile: AnnotatorProfile, assignment: dict, left: OracleEntry, right: OracleEntry, seed: int, username: str,
) -> Decision:
    """Pure: what this annotator answers for one `next` response, given what the two videos truly are."""
    checklist_keys = {dim: [item["key"] for item in items] for dim, items in assignment["checklist"].items()}
    return decide(
        profile,
        ShownVideo(left.utilities, left.defects, left.prompt),
        ShownVideo(right.utilities, right.defects, right.prompt),
        list(assignment["dimensions"]), checklist_keys, bool(assignment.get("asks_mos")),
        rng_for(seed, f"http:{username}:{assignment['id']}"),
    )


class PlatformClient:
    """A thin client for one user session."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.token: str | None = None
        self._video_cache: dict[str, bytes] = {}
        self._cache_lock = threading.Lock()

    def _request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        request = urllib.request.Request(urljoin(self.base_url, path.lstrip("/")), data=data, headers=headers,
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def login(self, username: str, password: str) -> None:
        status, body = self._request("POST", "/api/v1/auth/token/", {"username": username, "password": password})
        if status != 200:
            raise ApiError(f"login as {username} failed: HTTP {status} {body[:200]!r}")
        self.token = json.loads(body)["token"]

    def next_assignment(self, project: str) -> dict | None:
        status, body = self._request("POST", f"/api/v1/projects/{project}/next/", {})
        if status == 204:
            return None
        if status != 200:
            raise ApiError(f"next in project {project} failed: HTTP {status} {body[:200]!r}")
        return json.loads(body)

    def submit(self, assignment_id: int, payload: dict) -> bool:
        """True when stored, False when the lease was lost (409)."""
        status, body = self._request("POST", f"/api/v1/assignments/{assignment_id}/submit/", payload)
        if status == 409:
            return False
        if status not in (200, 201):
            raise ApiError(f"submit of assignment {assignment_id} failed: HTTP {status} {body[:200]!r}")
        return True

    def skip(self, assignment_id: int) -> None:
        status, body = self._request("POST", f"/api/v1/assignments/{assignment_id}/skip/", {})
        if status != 200:
            raise ApiError(f"skip of assignment {assignment_id} failed: HTTP {status} {body[:200]!r}")

    def video(self, url: str) -> bytes:
        with self._cache_lock:
            if url in self._video_cache:
                return self._video_cache[url]
        status, body = self._request("GET", url)
        if status != 200:
            raise ApiError(f"download of video {url} failed: HTTP {status}")
        with self._cache_lock:
            self._video_cache[url] = body
        return body


def perceived_entry(video: bytes, prompt_text: str) -> OracleEntry | None:
    """What an annotator sees in a video the oracle does not know: the pixel analyser's estimates."""
    from synthetic.analyser import AnalyserError, analyse
    from synthetic.prompts import parse_prompt

    try:
        analysis = analyse(video, prompt_text)
        prompt = parse_prompt(prompt_text)
    except (AnalyserError, ValueError) as error:
        logger.warning("cannot perceive a video of %r: %s", prompt_text, error)
        return None
    return OracleEntry(path="", generator="", prompt=prompt, seed=0, defects=analysis.defects,
                       utilities=dict(analysis.utilities))


def run_annotator(
    base_url: str, project: str, oracle: dict[str, OracleEntry], spec: AnnotatorSpec, seed: int = 0,
    max_items: int | None = None, perceive_unknown: bool = False, follow: float | None = None,
) -> RunSummary:
    """One annotator's session: judge assignments until the platform has none left (204) or `max_items`; with
    `follow`, wait that many seconds after a 204 and ask again (new comparisons arrive in the feedback loop)."""
    client = PlatformClient(base_url)
    client.login(spec.username, spec.password)
    profile = annotator_profile(spec.kind)
    summary = RunSummary(spec.username, spec.kind)
    perceived: dict[str, OracleEntry | None] = {}

    def entry(video: bytes, prompt_text: str) -> OracleEntry | None:
        sha = hashlib.sha256(video).hexdigest()
        if sha in oracle or not perceive_unknown:
            return oracle.get(sha)
        if sha not in perceived:
            perceived[sha] = perceived_entry(video, prompt_text)
        return perceived[sha]

    while max_items is None or summary.submitted + summary.skipped < max_items:
        assignment = client.next_assignment(project)
        if assignment is None:
            if follow is None:
                break
            time.sleep(follow)
            continue
        prompt_text = assignment["prompt"]["text"]
        shown = [entry(client.video(assignment[side]["url"]), prompt_text) for side in ("left", "right")]
        if shown[0] is None or shown[1] is None:
            logger.warning("assignment %s shows a video that is not in the dataset's oracle.csv%s: skipped",
                           assignment["id"], " and cannot be analysed" if perceive_unknown else "")
            client.skip(assignment["id"])
            summary.skipped += 1
            continue
        decision = decide_assignment(profile, assignment, shown[0], shown[1], seed, spec.username)
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}|{spec.username}|{assignment['id']}|{seed}"))
        if client.submit(assignment["id"], submission_payload(decision, bool(assignment.get("asks_mos")), key)):
            summary.submitted += 1
            summary.labels.update(decision.labels.values())
        else:
            summary.lost_leases += 1
    return summary
