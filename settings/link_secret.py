"""The link secret kept in a file (`LINK_SECRET_FILE`): read it, or in the demo generate it
once, so that no secret is a constant in the code."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from pydantic import SecretStr

from settings.errors import SettingsError


def link_secret_from_file(path: Path, create: bool) -> SecretStr | None:
    """The secret held in `path`; when missing and `create` (the demo), a new random one is
    written there first (mode 0600; of several processes starting together, one writes it)."""
    if not path.exists() and create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as err:
            message = f"LINK_SECRET_FILE {path}: cannot create it ({err.strerror})"
            raise SettingsError(message) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # the first process wins; the others read its file
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise SettingsError(f"LINK_SECRET_FILE {path}: cannot read it ({err.strerror})") from None
    if len(text) < 16:
        raise SettingsError(f"LINK_SECRET_FILE {path}: holds no secret of 16 characters or more")
    return SecretStr(text)
