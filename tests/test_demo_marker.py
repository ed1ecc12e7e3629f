"""The CLI and portal beside a demo of the same checkout use its embedded defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

import settings as settings_module
from settings import Settings, SettingsError


def test_a_checkout_that_ran_the_demo_accepts_its_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "demo-mode"
    monkeypatch.setattr(settings_module, "DEMO_MARKER", marker)
    for name in ("DATABASE_URL", "LINK_SECRET", "PAYLOAD_KEYS", "PAYLOAD_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FASTTRACK_ENV", "")
    monkeypatch.chdir(tmp_path)  # no .env here
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.from_env()
    marker.write_text("demo\n")
    assert Settings.from_env().demo
    monkeypatch.setenv("FASTTRACK_ENV", "production")  # said outright: the marker is ignored
    with pytest.raises(SettingsError):
        Settings.from_env()
