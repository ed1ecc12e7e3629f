"""Email templates compiled per language render exactly what translating at render time does."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from jinja2 import DictLoader, FileSystemLoader, StrictUndefined, select_autoescape

from domain.locales import LOCALES
from mail import compose as compose_module
from mail import i18n, samples, wording
from mail.compose import KINDS, TEMPLATES_DIR
from mail.i18n import PSEUDO
from mail.jinja import i18n_environment
from settings import Settings

SETTINGS = Settings(
    mail_from="FastTrack Referrals <referrals@fasttrack.localhost>",
    portal_url="https://portal.fasttrack.example",
    ops_email="ops@fasttrack.example",
)
OPTIONS: dict[str, Any] = {
    "undefined": StrictUndefined,
    "autoescape": select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
}


@pytest.mark.parametrize("tag", (*LOCALES, PSEUDO))
def test_every_email_kind_compiled_in_a_language_matches_the_render_time_translation(
    tag: str,
) -> None:
    at_render = i18n_environment(loader=FileSystemLoader(TEMPLATES_DIR), **OPTIONS)
    for kind in KINDS:
        request = samples.request(kind)
        if request.partner is not None:
            request = replace(request, partner=replace(request.partner, locale=tag))
        with i18n.using(tag):
            context = compose_module._context(
                request, SETTINGS, samples.links(), wording.subject(request)
            )
            compiled = compose_module._environment(tag)
            for suffix in ("txt.j2", "html.j2"):
                name = f"{kind}.{suffix}"
                expected = at_render.get_template(name).render(context)
                assert compiled.get_template(name).render(context) == expected, (tag, name)


def test_a_constant_message_is_translated_at_compile_time_and_its_variables_escaped() -> None:
    source = '{{ _("Customer") }}|{% trans partner=name %}Hello {{ partner }} team,{% endtrans %}'
    env = i18n_environment(locale="de", loader=DictLoader({"t.html": source}), autoescape=True)
    code = env.compile(source, "t.html", raw=True)
    assert "Kunde" in code and "gettext" not in code
    with i18n.using("de"):
        assert env.get_template("t.html").render(name="<b>") == "Kunde|Hallo Team von &lt;b&gt;,"
