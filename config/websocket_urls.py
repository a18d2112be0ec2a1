"""Websocket routes; the consumers arrive with the dashboard (frontend issue)."""

websocket_urlpatterns: list = []
