"""Real-time events: services announce changes after their transaction commits; consumers relay them.

Only services call `emit_project_event`. Events go to the Channels group `project-<id>`; the dashboard's
websocket consumer (frontend) authenticates managers, joins that group and relays what arrives.

Publishing happens on one background thread per process with its own event loop: a request thread only puts
the event on a queue, which keeps `async_to_sync` and Redis round trips off the hot path.
"""

import asyncio
import logging
import os
import queue
import threading

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def project_group(project_id: int) -> str:
    return f"project-{project_id}"


class _Publisher:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def submit(self, group: str, message: dict) -> None:
        self._ensure_thread()
        self._queue.put((group, message))

    def _ensure_thread(self) -> None:
        # Started lazily and again after a fork (Celery's prefork workers), where threads do not survive.
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._run, name="event-publisher", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        layer = get_channel_layer()
        while True:
            group, message = self._queue.get()
            if layer is None:
                continue
            try:
                loop.run_until_complete(layer.group_send(group, message))
            except Exception:  # noqa: BLE001  (a dashboard that misses an update must never fail a write)
                logger.warning("could not publish to %s", group, exc_info=True)


_publisher = _Publisher()


def emit_project_event(project_id: int, event: str, payload: dict) -> None:
    """Publish after commit, so that listeners never see a change that was rolled back."""
    message = {"type": "project.event", "event": event, "payload": payload}
    transaction.on_commit(lambda: _publisher.submit(project_group(project_id), message))
