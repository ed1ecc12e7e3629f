# PYTHON_ARGCOMPLETE_OK
"""Operator CLI for FastTrack partner referrals. `python starter.py --help` lists commands
and exit codes; the implementation lives in the `cli` package."""

from cli.app import main

if __name__ == "__main__":
    main()
