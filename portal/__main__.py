"""`python -m portal`: connect to Temporal and the database, then serve the portal with uvicorn
on PORTAL_HOST:PORTAL_PORT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import NoReturn

import uvicorn
from fastapi import FastAPI

from db.engine import DatabaseUnavailable, open_database
from portal.app import create_app
from runtime.logs import configure_logging, forward_core_logs
from runtime.temporal import TemporalUnavailable, connect
from settings import Settings, SettingsError

log = logging.getLogger("fasttrack.portal")


@asynccontextmanager
async def dependencies(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its Temporal client and database; the engine is closed on exit."""
    client = await connect(settings)
    engine, sessions = await open_database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    try:
        yield create_app(settings, client, sessions)
    finally:
        await engine.dispose()


async def serve(settings: Settings) -> None:
    async with dependencies(settings) as app:
        config = uvicorn.Config(
            app,
            host=settings.portal_host,
            port=settings.portal_port,
            proxy_headers=False,  # create_app believes only PORTAL_TRUSTED_PROXIES
            log_config=None,  # uvicorn's loggers go to the root handler (runtime/logs.py)
            log_level=None,
        )
        log.info("portal on http://%s:%s", settings.portal_host, settings.portal_port)
        await uvicorn.Server(config).serve()


def run(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="fasttrack-portal",
        description="FastTrack partner portal: serves the web pages and the JSON API on "
        "PORTAL_HOST:PORTAL_PORT (configuration from the environment: docs/configuration.md)",
    ).parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings, "INFO")
        forward_core_logs(settings)
        asyncio.run(serve(settings))
    except (SettingsError, TemporalUnavailable, DatabaseUnavailable) as err:
        print(f"portal: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def main() -> NoReturn:
    """Leave with os._exit after flushing: a process that connected a Temporal client can abort
    in interpreter teardown (PyGILState_Release, sdk-python #300), turning exit 2 into 134."""
    code = run()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
