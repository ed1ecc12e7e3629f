"""Who owns which profile field (`domain.ownership`) and what a pause is (`domain.pauses`),
through the CLI, the import, the directory and matching: one answer on every path."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from cli.errors import BAD_INPUT
from db.directory import ChangedMeanwhile, PartnerDirectory
from db.engine import open_database
from domain.matching import MatchContext, not_paused
from domain.models import Customer, MatchRequest, Referral
from domain.ownership import owner, partner_changes, partner_update, program_update
from domain.pauses import (
    MAX_PAUSE_DAYS,
    PauseError,
    check_pause,
    is_paused,
    latest_pause_day,
    pause_ends_at,
)
from domain.validation import PARTNER_FIELDS
from tests.dbfixtures import T0, Database, partner_profile
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_cli_unit import partner_json, run, write  # noqa: F401  (the `run` fixture)
from tests.test_portal import unique
from tests.test_portal_pages import OPERATOR, csrf_of, sign_in, version_of, web  # noqa: F401

# How the README names each field of a partner file (`mpn_id`, the key, is the program's).
README_WORDS = {
    "languages": ("languages",),
    "special segments": ("segments",),
    "seat range": ("min_seats", "max_seats"),
    "countries beyond its home": ("countries",),
    "its pause": ("paused_until",),
    "portal users": ("portal_users",),
    "`locale`": ("locale",),
    "name": ("name",),
    "opt-ins": ("referral_ready", "benefit_referrals", "fasttrack_ready"),
    "endorsed workloads": ("workloads",),
    "the referral contact": ("referral_contact",),
    "home country": ("home_country",),
    "time zone": ("timezone",),
    "capacity limit": ("max_open_referrals",),
}


def test_the_readme_split_of_fields_is_the_one_the_code_uses() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    text = " ".join(
        readme.split("**Who owns which field**", 1)[1].split("- **A pause**")[0].split()
    )
    partner_part, _, program_part = text.partition("The program owns the rest:")
    for words, fields in README_WORDS.items():
        side = "partner" if words in partner_part.partition("The partner owns")[2] else "program"
        assert words in (partner_part if side == "partner" else program_part), words
        assert {owner(f) for f in fields} == {side}, words
    named = {f for fields in README_WORDS.values() for f in fields}
    assert named == set(PARTNER_FIELDS) - {"mpn_id"}  # the README names every field
    with pytest.raises(ValueError, match="the program owns workloads"):
        partner_update(partner_profile("1"), workloads=["teams"])


def test_an_import_changes_only_the_programs_fields_of_an_existing_partner() -> None:
    stored = partner_profile("1", languages=["fr"], paused_until=date(2026, 3, 9))
    incoming = partner_profile("1", workloads=["intune"], languages=["en"], countries=["US"])
    merged = program_update(stored, incoming)
    assert merged.workloads == ["intune"] and merged.languages == ["fr"]
    assert merged.paused_until == date(2026, 3, 9) and merged.countries == ["CA"]
    assert [f for f, _, _ in partner_changes(stored, incoming)] == [
        "languages",
        "countries",
        "paused_until",
    ]


def _cli_db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


async def test_reimport_keeps_the_partners_edits_and_pause_and_replace_lists_them(
    run: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "p.json", [partner_json("4711001")])
    assert run("partners", "import", path).returncode == 0
    engine, sessions = await open_database(_cli_db(tmp_path))
    directory = PartnerDirectory(sessions)
    now = datetime.now(UTC)
    record = await directory.get("4711001")
    assert record is not None  # the partner edits its profile in the portal, then pauses
    await directory.upsert([dataclasses.replace(record.profile, languages=["fr"])], now)
    until = date.today() + timedelta(days=10)
    await directory.pause("4711001", until, now)

    changed = dict(partner_json("4711001"), workloads=["intune"])
    r = run("partners", "import", write(tmp_path, "p2.json", [changed]))
    assert r.returncode == 0 and "1 updated" in r.stdout
    record = await directory.get("4711001")
    assert record is not None and record.profile.workloads == ["intune"]
    assert record.profile.languages == ["fr"] and record.profile.paused_until == until
    assert "kept 2 partner-owned field(s)" in r.stderr  # said, not dropped silently
    assert "4711001 languages: fr -> en,de" in r.stderr

    # a pause in the file that the import would not write (the partner's) refuses nothing
    stale = dict(changed, paused_until="2099-12-31", portal_users=["new.user@contoso.example"])
    r = run("partners", "import", write(tmp_path, "p3.json", [stale]))
    assert r.returncode == 0, r.stderr
    assert "4711001 portal_users: (none) -> new.user@contoso.example" in r.stderr
    record = await directory.get("4711001")
    assert record is not None and record.profile.paused_until == until

    r = run("partners", "import", "--replace", write(tmp_path, "p2.json", [changed]))
    assert r.returncode == 0
    assert "4711001 languages: fr -> en,de" in r.stderr
    assert f"4711001 paused_until: {until.isoformat()} -> (none)" in r.stderr
    record = await directory.get("4711001")
    assert record is not None and record.profile.languages == ["en", "de"]
    assert record.profile.paused_until is None
    await engine.dispose()


def test_the_pause_limit_holds_on_the_cli_and_in_an_import(
    run: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    assert run("partners", "import", write(tmp_path, "p.json", [partner_json()])).returncode == 0
    r = run("partners", "pause", "4711001", "--until", "2030-01-01")
    assert r.returncode == BAD_INPUT and f"at most {MAX_PAUSE_DAYS} days" in r.stderr
    far = dict(partner_json("4711002"), paused_until="2099-12-31")
    r = run("partners", "import", write(tmp_path, "far.json", [far]))
    assert r.returncode == BAD_INPUT and "partner 4711002: paused_until" in r.stderr
    ended = dict(partner_json("4711003"), paused_until="2020-01-01")  # an ended pause is kept
    assert run("partners", "import", write(tmp_path, "old.json", [ended])).returncode == 0
    r = run("partners", "list", "--paused", "--json")
    assert json.loads(r.stdout) == []


def _request(at: datetime) -> MatchRequest:
    customer = Customer("C", country="US", language="en", segment="commercial", seats=200)
    referral = Referral("FT-P", "standard", customer, ["teams"])
    return MatchRequest(referral, "FT-P", ["teams"], 1, [], as_of=at)


@pytest.mark.parametrize(
    ("tz", "still_paused_at_utc_midnight"),
    [("America/Los_Angeles", True), ("Europe/Berlin", False), ("Asia/Tokyo", False)],
)
def test_a_pause_ends_at_midnight_in_the_partners_time_zone(
    tz: str, still_paused_at_utc_midnight: bool
) -> None:
    last = date(2026, 3, 5)
    utc_midnight = datetime(2026, 3, 6, tzinfo=UTC)
    p = partner_profile("1", timezone=tz, paused_until=last)
    ctx = MatchContext.of(_request(utc_midnight))
    assert is_paused(last, tz, utc_midnight) is still_paused_at_utc_midnight
    assert not_paused(p, ctx) is not still_paused_at_utc_midnight
    ends = pause_ends_at(last, tz)
    assert is_paused(last, tz, ends - timedelta(seconds=1)) and not is_paused(last, tz, ends)
    assert ends == datetime(2026, 3, 6, tzinfo=ZoneInfo(tz))


def test_a_pause_is_at_most_ninety_days_from_the_partners_today() -> None:
    now = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # already 3 March in Berlin
    check_pause(date(2026, 6, 1), "Europe/Berlin", now)
    with pytest.raises(PauseError, match="until 2026-06-01 at the latest"):
        check_pause(date(2026, 6, 2), "Europe/Berlin", now)
    with pytest.raises(PauseError, match="in the past"):
        check_pause(date(2026, 3, 2), "Europe/Berlin", now)
    check_pause(date(2026, 3, 2), "Europe/Berlin", now, ended_ok=True)


async def test_the_directory_refuses_a_pause_beyond_the_limit_and_a_stale_edit(
    database: Database,
) -> None:
    directory = PartnerDirectory(database.sessionmaker)
    await directory.upsert([partner_profile("1")], T0)
    with pytest.raises(PauseError):
        await directory.pause("1", (T0 + timedelta(days=MAX_PAUSE_DAYS + 2)).date(), T0)
    loaded = await directory.get("1")
    assert loaded is not None
    await directory.pause("1", (T0 + timedelta(days=3)).date(), T0)
    with pytest.raises(ChangedMeanwhile) as err:
        await directory.edit("1", loaded.version, lambda p: partner_update(p, min_seats=5), T0)
    assert err.value.current.profile.paused_until == (T0 + timedelta(days=3)).date()
    assert err.value.current.profile.min_seats == 150


@pytest.mark.parametrize("meanwhile", ["pause", "resume", "import"])
async def test_a_profile_form_loaded_before_another_change_answers_changed_meanwhile(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
    meanwhile: str,
) -> None:
    """A pause, a resume or an import lands after the form was loaded: saving the form
    answers "changed meanwhile" with the current values and reverts nothing."""
    await h.partners(partner("2005"))
    await sign_in(h, web, "referrals-2005@partner.example")
    until = date.today() + timedelta(days=7)

    async def pause() -> None:
        csrf = csrf_of((await web.get("/profile")).text)
        r = await web.post("/profile/pause", data={"csrf": csrf, "until": until.isoformat()})
        assert r.status_code == 303

    if meanwhile == "resume":
        await pause()  # before the form is loaded
    form = await web.get("/profile")
    csrf, version = csrf_of(form.text), version_of(form.text)
    benefit = True
    if meanwhile == "pause":
        await pause()
    elif meanwhile == "resume":
        assert (await web.post("/profile/resume", data={"csrf": csrf})).status_code == 303
    else:  # the program's file imported again: an opt-in withdrawn, other languages
        benefit = False
        imported = partner("2005", benefit_referrals=benefit, languages=["it"])
        await PartnerDirectory(h.sessions).upsert(
            [imported], datetime.now(UTC), merge=program_update
        )
    paused_until = until if meanwhile == "pause" else None
    stale = {"csrf": csrf, "version": version, "languages": "fr", "min_seats": "0"}
    r = await web.post("/profile", data=stale)
    assert r.status_code == 409 and "changed meanwhile" in r.text
    assert 'value="de, en"' in r.text  # the current values, to change again
    record = await PartnerDirectory(h.sessions).get("2005")
    assert record is not None and record.profile.paused_until == paused_until
    assert record.profile.languages == ["de", "en"]  # the import kept the partner's own
    assert record.profile.benefit_referrals is benefit
    fresh = dict(stale, version=version_of(r.text))
    assert (await web.post("/profile", data=fresh)).status_code == 303
    record = await PartnerDirectory(h.sessions).get("2005")
    assert record is not None and record.profile.languages == ["fr"]
    assert record.profile.paused_until == paused_until
    assert record.profile.benefit_referrals is benefit


async def test_a_demo_restart_keeps_what_partners_changed_in_the_portal(database: Database) -> None:
    from db.audit import Actor
    from demo import seed_partners

    data = Path(__file__).resolve().parent.parent / "data"
    demo = Actor("system:demo", "demo sample data")
    created, _ = await seed_partners(database.sessionmaker, data, demo)
    directory = PartnerDirectory(database.sessionmaker)
    first = (await directory.list())[0]
    edited = await directory.edit(
        first.profile.mpn_id, first.version, lambda p: partner_update(p, languages=["ja"]), T0
    )
    assert edited is not None and created > 0
    await seed_partners(database.sessionmaker, data, demo)  # the demo started again
    kept = await directory.get(first.profile.mpn_id)
    assert kept is not None and kept.profile.languages == ["ja"]


async def test_the_pause_limit_is_the_same_on_every_path(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
    run: Any,  # noqa: F811
    database_url: str,
    tmp_path: Path,
) -> None:
    """The last day a pause may reach (`domain.pauses.latest_pause_day`, in the partner's
    time zone) is accepted, the day after refused, by the partner's page, the operators' page,
    `partners pause`, an import and the directory; the pause ends at the partner's midnight."""
    await h.partners(partner("2010", timezone="Asia/Tokyo"))
    now = datetime.now(UTC)
    last = latest_pause_day("Asia/Tokyo", now)
    too_far = last + timedelta(days=1)
    directory = PartnerDirectory(h.sessions)

    async def paused_until() -> date | None:
        record = await directory.get("2010")
        assert record is not None
        return record.profile.paused_until

    await sign_in(h, web, "referrals-2010@partner.example")
    csrf = csrf_of((await web.get("/profile")).text)
    for day, status in ((too_far, 422), (last, 303)):
        r = await web.post("/profile/pause", data={"csrf": csrf, "until": day.isoformat()})
        assert r.status_code == status, day
    assert await paused_until() == last
    await directory.resume("2010", now)

    web.cookies.clear()
    await sign_in(h, web, OPERATOR)
    csrf = csrf_of((await web.get("/ops/partners/2010")).text)
    for day, status in ((too_far, 422), (last, 303)):
        r = await web.post(
            "/ops/partners/2010/pause", data={"csrf": csrf, "until": day.isoformat()}
        )
        assert r.status_code == status, day
    assert await paused_until() == last
    await directory.resume("2010", now)

    cli = {"DATABASE_URL": database_url}
    assert run("partners", "pause", "2010", "--until", too_far.isoformat(), **cli).returncode == (
        BAD_INPUT
    )
    assert run("partners", "pause", "2010", "--until", last.isoformat(), **cli).returncode == 0
    assert await paused_until() == last

    for day, code in ((too_far, BAD_INPUT), (last, 0)):
        entry = dict(partner_json("2011"), timezone="Asia/Tokyo", paused_until=day.isoformat())
        path = write(tmp_path, f"{day}.json", [entry])
        assert run("partners", "import", path, **cli).returncode == code, day

    with pytest.raises(PauseError):
        await directory.pause("2010", too_far, now)
    ends = pause_ends_at(last, "Asia/Tokyo")
    assert ends == datetime.combine(
        last + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Tokyo")
    )
    assert is_paused(last, "Asia/Tokyo", ends - timedelta(seconds=1))
    assert not is_paused(last, "Asia/Tokyo", ends)


async def test_who_owns_which_field_is_the_same_on_every_path(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
    run: Any,  # noqa: F811
    database_url: str,
    tmp_path: Path,
) -> None:
    """The partner's languages, set on its profile page, survive the program's import (which
    changes the program's workloads) and decide the workflow's match; `--replace` alone takes
    them back, and says so first."""
    entry = dict(partner_json("2020"), referral_contact="referrals-2020@partner.example")
    cli = {"DATABASE_URL": database_url}
    assert run("partners", "import", write(tmp_path, "a.json", [entry]), **cli).returncode == 0
    await sign_in(h, web, "referrals-2020@partner.example")
    form = await web.get("/profile")
    saved = {"csrf": csrf_of(form.text), "version": version_of(form.text), "languages": "ja"}
    assert (await web.post("/profile", data=saved)).status_code == 303

    program = dict(entry, workloads=["teams", "sharepoint", "intune"])
    assert run("partners", "import", write(tmp_path, "b.json", [program]), **cli).returncode == 0
    record = await PartnerDirectory(h.sessions).get("2020")
    assert record is not None and record.profile.languages == ["ja"]
    assert "intune" in record.profile.workloads

    japanese = replace_customer(referral(unique("FT-OWN"), type="standard"), language="ja")
    handle = await h.start(japanese)
    assert await h.assigned(handle) == "2020"  # the only partner speaking the customer's language

    r = run("partners", "import", "--replace", write(tmp_path, "c.json", [program]), **cli)
    assert r.returncode == 0 and "2020 languages: ja -> en,de" in r.stderr
    record = await PartnerDirectory(h.sessions).get("2020")
    assert record is not None and record.profile.languages == ["en", "de"]


def replace_customer(r: Referral, **changes: Any) -> Referral:
    return dataclasses.replace(r, customer=dataclasses.replace(r.customer, **changes))


async def test_the_partner_manages_its_portal_users_on_its_profile(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    """Its own field (`domain.ownership`): added, a user signs in; removed, its session ends
    at once; nobody removes their own address; a stale form answers "changed meanwhile"."""
    await h.partners(partner("2006"), partner("2007"))
    contact, colleague = "referrals-2006@partner.example", "colleague@partner.example"
    await sign_in(h, web, contact)
    form = await web.get("/profile")
    csrf, version = csrf_of(form.text), version_of(form.text)
    theirs = {"csrf": csrf, "version": version, "portal_users": "Referrals-2007@partner.example"}
    r = await web.post("/profile/users", data=theirs)  # another partner's contact: refused
    assert r.status_code == 422 and "signs in for another partner already" in r.text
    bad = {"csrf": csrf, "version": version, "portal_users": "not-an-address"}
    r = await web.post("/profile/users", data=bad)
    assert r.status_code == 422 and "Not an email address: not-an-address." in r.text
    assert "portal_users must" not in r.text  # the catalog's words, not the parser's
    added = {"csrf": csrf, "version": version, "portal_users": colleague}
    r = await web.post("/profile/users", data=added)
    assert r.status_code == 303 and r.headers["location"].startswith("/profile?done=users")
    stale = await web.post("/profile/users", data={**added, "portal_users": ""})
    assert stale.status_code == 409 and "changed meanwhile" in stale.text
    contact_cookies = dict(web.cookies)

    web.cookies.clear()
    await sign_in(h, web, colleague)
    page = await web.get("/profile")
    assert page.status_code == 200 and colleague in page.text
    own = {"csrf": csrf_of(page.text), "version": version_of(page.text), "portal_users": ""}
    directory = PartnerDirectory(h.sessions)  # meanwhile, the profile changes elsewhere
    loaded = await directory.get("2006")
    assert loaded is not None
    edit = lambda p: partner_update(p, min_seats=7)  # noqa: E731
    await directory.edit("2006", loaded.version, edit, datetime.now(UTC))
    r = await web.post("/profile/users", data=own)
    assert r.status_code == 422 and "Your own address stays in the list" in r.text
    assert version_of(r.text) == own["version"]  # the refused form keeps its version
    again = {**own, "csrf": csrf_of(r.text), "portal_users": colleague}
    assert (await web.post("/profile/users", data=again)).status_code == 409  # still stale
    colleague_cookies = dict(web.cookies)

    web.cookies.clear()
    web.cookies.update(contact_cookies)
    page = await web.get("/profile")
    removed = {"csrf": csrf_of(page.text), "version": version_of(page.text), "portal_users": ""}
    assert (await web.post("/profile/users", data=removed)).status_code == 303
    record = await PartnerDirectory(h.sessions).get("2006")
    assert record is not None and record.profile.portal_users == []
    web.cookies.clear()
    web.cookies.update(colleague_cookies)
    assert (await web.get("/profile")).status_code in (303, 401)  # signed out


async def test_a_resume_that_changes_nothing_keeps_an_open_form_current(
    database: Database,
) -> None:
    """`partners resume` on a partner that is not paused writes nothing: no new version, no
    audit entry, so the partner's open Referral Profile form still saves."""
    directory = PartnerDirectory(database.sessionmaker)
    await directory.upsert([partner_profile("9")], T0)
    loaded = await directory.get("9")
    assert loaded is not None
    resumed = await directory.resume("9", T0 + timedelta(minutes=1))
    assert resumed.version == loaded.version
    saved = await directory.edit("9", loaded.version, lambda p: partner_update(p, min_seats=5), T0)
    assert saved.profile.min_seats == 5


def test_a_partner_without_its_own_language_follows_its_home_country_across_imports(
    run: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """`locale` is derived from `home_country` until the partner chooses one: a re-import
    that moves the home country moves the emails' language with it."""
    german = dict(partner_json("5500001"), home_country="DE")
    assert run("partners", "import", write(tmp_path, "de.json", [german])).returncode == 0
    french = dict(german, home_country="FR")
    r = run("partners", "import", write(tmp_path, "fr.json", [french]))
    assert r.returncode == 0 and "locale" not in r.stderr  # nothing of the partner's kept
    (listed,) = json.loads(run("partners", "list", "--json").stdout)
    assert (listed["home_country"], listed["locale"]) == ("FR", "fr")
