"""The dashboard's websocket: relays a project's events (emitted by services after commit) to its managers."""

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from annotation.events import project_group
from annotation.models import Membership
from annotation.selectors_frontend import project_and_role

logger = logging.getLogger(__name__)


class ProjectEventsConsumer(AsyncJsonWebsocketConsumer):
    """`ws/projects/<slug>/`: managers of the project (and staff) only; everyone else is refused at the
    handshake (closing before accepting answers the upgrade with HTTP 403)."""

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        slug = self.scope["url_route"]["kwargs"]["slug"]
        found = await database_sync_to_async(project_and_role)(slug=slug, user=user)
        if found is None or found[1] != Membership.Role.MANAGER:
            logger.info("websocket for %s refused to %s", slug, user.get_username())
            await self.close()
            return
        self.group = project_group(found[0].pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def project_event(self, message: dict) -> None:
        await self.send_json({"event": message["event"], "payload": message.get("payload", {})})

    async def receive_json(self, content, **kwargs) -> None:
        # The dashboard only listens; a client message gets no answer rather than an error that closes the socket.
        return
