import pytest
from rest_framework.test import APIClient


@pytest.fixture
def client_for():
    """An API client logged in as `user` (None: anonymous)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make
