"""A first start never crashes: many processes starting at once on an empty var/ create the
payload key file, the SQLite file, the schema and the mail folder once, and all agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.atomic import create_once, write_atomic
from runtime.codec import KeyRing, load_keyring
from tests.dbfixtures import fresh_database_url

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = 12

# Each process waits for the GO file, so that they all race for the same empty folder.
_WAIT_FOR_GO = """
import os, sys, time
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.001)
"""


def _race(script: str, tmp_path: Path, *args: str, count: int = PROCESSES) -> list[str]:
    """Run `count` copies of `script` released at the same moment; their stdouts."""
    go = tmp_path / "GO"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WAIT_FOR_GO + script, str(go), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    time.sleep(1.0)  # every interpreter started and polling
    go.touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        outputs.append(out.strip())
    return outputs


def test_processes_starting_together_share_one_payload_key(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "payload-keys.json"
    script = """
import base64
from pathlib import Path
from runtime.codec import load_keyring
ring = load_keyring(None, Path(sys.argv[2]))
print(ring.active, base64.b64encode(ring.keys[ring.active]).decode())
"""
    outputs = _race(script, tmp_path, str(key_file))
    assert len(set(outputs)) == 1, outputs
    ring = load_keyring(None, key_file, create=False)
    assert outputs[0] == f"{ring.active} {__import__('base64').b64encode(ring.keys['k1']).decode()}"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]  # no temporary left


def test_a_reader_never_sees_a_half_written_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    script = """
import json
from pathlib import Path
from runtime.atomic import create_once
path = Path(sys.argv[2])
created = create_once(path, json.dumps({"pad": "x" * 2_000_000}).encode())
text = path.read_text()
json.loads(text)
print(created, len(text))
"""
    outputs = _race(script, tmp_path, str(key_file))
    assert sum(line.startswith("True") for line in outputs) == 1
    assert len({line.split()[1] for line in outputs}) == 1


def test_create_once_keeps_the_first_file_and_write_atomic_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "file"
    assert create_once(path, b"first")
    assert not create_once(path, b"second")
    assert path.read_bytes() == b"first"
    write_atomic(path, b"third")
    assert path.read_bytes() == b"third"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file"]


def test_generation_can_be_refused_and_a_key_file_is_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    with pytest.raises(ValueError, match="set PAYLOAD_KEYS or PAYLOAD_KEY_FILE"):
        load_keyring(None, path, create=False)
    ring = KeyRing.generate("k3")
    path.write_text(ring.to_json())
    assert load_keyring(None, path, create=False) == ring
    assert json.loads(path.read_text())["active"] == "k3"


async def test_processes_starting_together_create_and_migrate_one_database(
    db_backend: str, tmp_path: Path
) -> None:
    backend = db_backend
    async with fresh_database_url(backend, tmp_path / "var") as url:
        script = """
import asyncio
from sqlalchemy import text
from db.engine import open_database
async def main():
    engine, _ = await open_database(sys.argv[2])
    async with engine.connect() as conn:
        print(await conn.scalar(text("SELECT version_num FROM alembic_version")))
    await engine.dispose()
asyncio.run(main())
"""
        outputs = _race(script, tmp_path, url, count=8)
    assert len(set(outputs)) == 1 and outputs[0], outputs


async def test_concurrent_alembic_upgrades_on_one_new_database(
    db_backend: str, tmp_path: Path
) -> None:
    async with fresh_database_url(db_backend, tmp_path / "var") as url:
        env = {**os.environ, "DATABASE_URL": url, "FASTTRACK_ENV": "demo"}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "alembic", "-c", "db/alembic.ini", "upgrade", "head"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err


def test_mail_sinks_starting_together_share_one_folder(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "mail"
    script = """
import asyncio
from pathlib import Path
from runtime.smtp_sink import MailSink
async def main():
    sink = await MailSink(directory=Path(sys.argv[2]), echo=False).start("127.0.0.1", 0)
    await sink.stop()
    print("ok")
asyncio.run(main())
"""
    assert _race(script, tmp_path, str(folder), count=6) == ["ok"] * 6
    assert folder.is_dir()
