"""`python -m settings --markdown`: print docs/configuration.md."""

from __future__ import annotations

import sys

from settings.doc import markdown

if sys.argv[1:] != ["--markdown"]:
    print("usage: python -m settings --markdown", file=sys.stderr)
    sys.exit(2)
sys.stdout.write(markdown())
