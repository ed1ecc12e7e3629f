"""docs/configuration.md, generated from the settings model (`python -m settings
--markdown`): every variable, its default and its meaning, by group."""

from __future__ import annotations

from typing import Any

from settings import variables

_PREAMBLE = """# Configuration

Every process (worker, CLI, portal, codec server) reads the same environment variables, and a
`.env` file in its working directory when there is one (the environment wins). Generated from
`settings/` by `python -m settings --markdown > docs/configuration.md`; a test
fails when it is stale.

**Demo defaults.** The SQLite file under `var/`, and a payload key and a link secret generated
into `var/` (each home its own; the code holds no secret) are accepted only in the demo:
`make demo` and `python worker.py --dev`, every process in the same `FASTTRACK_HOME` once either
has run there (they leave `var/demo-mode`; `make clean` removes it), and any process with
`FASTTRACK_ENV=demo`. Anywhere else a process refuses to start until `DATABASE_URL`,
`LINK_SECRET` (or `LINK_SECRET_FILE`) and `PAYLOAD_KEYS` (or `PAYLOAD_KEY_FILE`) are set, naming
the ones missing. Secrets are never shown in logs or error messages.

**Temporal.** Connections are built with the SDK's `temporalio.envconfig`, as the `temporal`
CLI builds them: with `TEMPORAL_PROFILE` (or `TEMPORAL_CONFIG_FILE`) the profile's values apply
wherever the variables below leave them unset. Where two names are shown, both are accepted.

"""


def markdown() -> str:
    """docs/configuration.md: the table of every variable, by group."""
    groups: dict[str, list[str]] = {}
    for _name, var, default in variables():
        shown = var.default_doc or _shown_default(default)
        names = " / ".join(f"`{n}`" for n in (var.name, *var.aliases))
        groups.setdefault(var.group, []).append(f"| {names} | {shown} | {var.doc} |")
    out = [_PREAMBLE.rstrip("\n"), ""]
    for group, rows in groups.items():
        out += [f"## {group}", "", "| variable | default | meaning |", "|---|---|---|", *rows, ""]
    return "\n".join(out)


def _shown_default(default: Any) -> str:
    if default is None or default == ():
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"
