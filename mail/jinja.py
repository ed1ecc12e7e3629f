"""The Jinja2 environments of emails and pages: the `i18n` extension (`{% trans %}`, `_()`,
plural forms) wired to the catalogs, and the filters that show codes and figures in words."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from mail import display, formats, i18n


def i18n_environment(**options: Any) -> Environment:
    env = Environment(extensions=["jinja2.ext.i18n"], **options)
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext,
        i18n.ngettext,
        newstyle=True,
        pgettext=i18n.pgettext,
        npgettext=i18n.npgettext,
    )
    env.filters.update(
        workload=display.workload,
        reason=display.reason,
        segment=display.segment,
        money=formats.money,
        number=formats.number,
        moment=formats.moment_long,
        moment_short=formats.moment_short,
        percent=formats.percent,
        day=formats.day,
        country=formats.country,
        language=formats.language,
        yes_no=display.yes_no,
        kind=display.kind,
    )
    return env
