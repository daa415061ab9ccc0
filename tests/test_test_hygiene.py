"""The test session's own set-up: a private cache folder, never the user's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codesign.settings import Settings, get_settings


def test_the_session_cache_is_not_the_users(
    session_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    users = Path.home() / ".cache" / "codesign"
    for settings in (get_settings(), Settings.from_env()):
        assert settings.cache_dir == session_cache
        assert settings.cache_dir.resolve() != users.resolve()
    if "CODESIGN_TEST_CACHE" not in os.environ:
        assert session_cache.is_relative_to(tmp_path_factory.getbasetemp())
