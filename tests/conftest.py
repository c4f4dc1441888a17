"""Shared fixtures: every test runs with its own empty home, config dir and environment."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests judge what a parser returns, never how fast: a per-example deadline or the
# too-slow health check fails them on a loaded 2-core machine for no fault of the code.
settings.register_profile("opwatch", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("opwatch")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the user's config, tokens or colour settings."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(("OPWATCH_", "TOLOKA_", "WESOG_", "TO_", "GITHUB_")) or name in (
            "NO_COLOR",
            "FORCE_COLOR",
            "COLUMNS",
            "LINES",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home
