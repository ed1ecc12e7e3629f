# PYTHON_ARGCOMPLETE_OK
"""Parser, dispatch and the process exit (see `python starter.py --help`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from typing import NoReturn

from cli import admin, partners, referrals, report
from cli.context import Context
from cli.errors import BAD_INPUT, EPILOG, INTERNAL, CliError, classify, one_line
from cli.help import TOP_EXAMPLES, add_examples, program_name
from settings import Settings

Handler = Callable[[Context, argparse.Namespace], Awaitable[int]]


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (exit 2) instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        raise CliError(BAD_INPUT, f"{message} (see: {self.prog} --help)")


def build_parser() -> Parser:
    """Every command, each with its examples in --help."""
    parser = _commands()
    add_examples(parser)
    return parser


def _commands() -> Parser:
    prog = program_name()
    parser = Parser(
        prog=prog,
        description="FastTrack partner referrals: operator CLI (partners, referrals, reports).",
        epilog=TOP_EXAMPLES.replace("{cli}", prog) + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    partners.register(sub)
    referrals.register(sub)
    report.register(sub)
    admin.register(sub)
    return parser


def _version() -> str:
    try:
        return metadata.version("fasttrack-referrals")
    except metadata.PackageNotFoundError:
        return "(source checkout)"


async def _dispatch(handler: Handler, args: argparse.Namespace) -> int:
    ctx = Context(Settings.from_env())
    try:
        return await handler(ctx, args)
    finally:
        with contextlib.suppress(Exception):  # closing never hides the command's outcome
            await ctx.close()


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code. Errors are printed as one line on stderr."""
    try:
        parser = build_parser()
        if "_ARGCOMPLETE" in os.environ:  # shell completion (see the README): exits itself
            import argcomplete

            argcomplete.autocomplete(parser)
        args = parser.parse_args(argv)
        return asyncio.run(_dispatch(args.handler, args))
    except SystemExit as done:  # --help / --version
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    except KeyboardInterrupt:
        _error_line("error: interrupted")
        return 130
    except BaseException as err:  # the CLI never shows a traceback
        failure = classify(err)
        _error_line(failure.line())
        return failure.code


def _error_line(text: str) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.write(one_line(text, limit=2000) + "\n")


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: flush, then leave with os._exit.

    A short-lived Temporal client process can abort at interpreter shutdown
    (PyGILState_Release, sdk-python #300), turning success into exit 134; skipping the
    interpreter's teardown avoids it."""
    try:
        code = run(argv)
    except BaseException:  # last resort: still one line, still an exit code
        _error_line("error: unexpected failure")
        code = INTERNAL
    _flush()
    os._exit(code)
