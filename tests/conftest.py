"""Session-wide test setup: the real PostgreSQL and Redis of this machine, media in a temporary folder."""

import pytest


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    settings.MEDIA_ROOT = tmp_path_factory.getbasetemp() / "media"
    settings.MEDIA_ROOT.mkdir(exist_ok=True)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~0.3 s per user on this machine; what is tested is who may do what, not hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
