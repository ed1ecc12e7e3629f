"""The pages added after the first translation pass, in the pseudo-locale: the partner's
Integrations page and every operator page show nothing that skipped the catalogs."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from db.portal_prefs import PreferenceStore
from mail import i18n
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_i18n_portal import PARTNER_EMAIL, leftovers
from tests.test_portal_pages import OPERATOR, csrf_of, web  # noqa: F401


async def test_scratch(h: Harness, web: httpx.AsyncClient) -> None:  # noqa: F811
    await h.partners(partner("3101"))
    handle = await h.start(referral("FT-X-MORE"))
    await h.assigned(handle)
    rid = handle.id
    prefs = PreferenceStore(h.sessions)
    await prefs.set_locale(PARTNER_EMAIL, i18n.PSEUDO, datetime.now(UTC))
    await sign_in_as(h, web, PARTNER_EMAIL)
    out = []
    page = await web.get("/integrations")
    out.append(("integrations", leftovers(page.text, rid)))
    added = await web.post(
        "/integrations/webhooks",
        data={"csrf": csrf_of(page.text), "url": "https://hooks.partner.example/ft"},
    )
    out.append(("integrations-added", leftovers(added.text, rid)))
    bad = await web.post(
        "/integrations/webhooks", data={"csrf": csrf_of(page.text), "url": "http://x"}
    )
    out.append(("integrations-bad", leftovers(bad.text, rid)))
    profile = await web.get("/profile")
    out.append(("profile", leftovers(profile.text, rid, "de, en", "AT, CH")))
    for path in ("/referrals", f"/referrals/{rid}"):
        out.append((path, leftovers((await web.get(path)).text, rid, "Jana Richter")))
    await web.post("/signout", data={"csrf": csrf_of(profile.text)})
    web.cookies.clear()
    await prefs.set_locale(OPERATOR, i18n.PSEUDO, datetime.now(UTC))
    await sign_in_as(h, web, OPERATOR)
    for path in (
        "/ops/escalations",
        "/ops/referrals",
        "/ops/partners",
        "/ops/partners/3101",
        "/ops/reports",
        "/docs",
    ):
        r = await web.get(path)
        out.append((path, [str(r.status_code), *leftovers(r.text, rid, "Partner 3101 GmbH")]))
    with open("/tmp/i18nfix/out.txt", "w") as f:
        for name, words in out:
            f.write(f"{name}: {' '.join(words)}\n")


async def sign_in_as(h: Harness, web: httpx.AsyncClient, email: str) -> None:  # noqa: F811
    """Sign in from the emailed link, whatever the language of its pages."""
    form = await web.get("/signin")
    before = len(h.sink.messages)
    await web.post("/signin", data={"email": email, "next": "/", "csrf": csrf_of(form.text)})
    msg = await h.wait_mail(lambda m: m in h.sink.messages[before:] and email in str(m["To"]))
    body = msg.get_body(("plain",))
    assert body is not None
    link = next(w for w in str(body.get_content()).split() if "/signin/" in w)
    path = link.split("http://portal", 1)[1]
    page = await web.get(path)
    done = await web.post(path, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
