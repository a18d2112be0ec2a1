"""Websocket routes (session-authenticated by the AuthMiddlewareStack in config/asgi.py)."""

from django.urls import path

from frontend.consumers import ProjectEventsConsumer

websocket_urlpatterns = [
    path("ws/projects/<slug:slug>/", ProjectEventsConsumer.as_asgi()),
]
