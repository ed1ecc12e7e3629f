"""Files that several processes may create or write at the same moment, never seen half-written:
the content goes to a temporary file in the same folder, which is then linked or renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

# link(2) refused by the filesystem (some network and FUSE mounts): fall back to a rename.
_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS}


def create_once(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Create `path` holding `data` unless it exists. True when this call created it; False when
    another process was first (its file is kept: read it). Readers see no file or the whole one."""
    tmp = _written_temp(path, data, mode)
    try:
        try:
            os.link(tmp, path)  # fails if the name exists: the first process wins
        except FileExistsError:
            return False
        except OSError as err:
            if err.errno not in _NO_LINK:
                raise
            if path.exists():
                return False
            os.rename(tmp, path)  # no link(2): a rare loser overwrites with a complete file
        _sync_folder(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_atomic(path: Path, data: bytes, mode: int = 0o644, *, sync: bool = True) -> None:
    """Write `path` whole: readers see the old content or the new one, never a part. `sync`
    False skips the flush to disk (for files whose loss in a power cut does not matter)."""
    tmp = _written_temp(path, data, mode, sync)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _written_temp(path: Path, data: bytes, mode: int, sync: bool = True) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def _sync_folder(folder: Path) -> None:
    """Make the new name durable (a crash right after must not lose a key in use)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
