"""Every IO test runs with the offline switch off and a private cache directory."""

import pytest

from zoo.io import uri as uri_mod


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """Offline switch off, cache in a fresh temporary directory."""
    for name in uri_mod.OFFLINE_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
