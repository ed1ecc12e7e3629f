"""The partner's Referral Profile page: opt-ins, workloads and contact shown read-only (program
support changes them); languages, segments, customer size and further countries edited here,
validated, audited, and used by the next match; its portal users; pause (`domain.pauses`) and
resume. What the partner may change is `domain.ownership`'s rule."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from activities.matching import ranking_terms
from db.audit import DirectoryAudit, DirectoryEventRow
from db.directory import ChangedMeanwhile, PartnerRecord
from db.track_record import scorecards
from domain import access
from domain import track_record as tr
from domain.locales import parse_locale
from domain.models import PartnerProfile, TrackRecord
from domain.ownership import partner_update
from domain.pauses import PauseError, is_paused, latest_pause_day, local_today
from domain.text import Text, trp
from domain.validation import (
    COUNTRY_CODES,
    LANGUAGE_CODES,
    ValidationError,
    parse_partner,
    partner_to_json,
    whole_number,
)
from domain.validation.codes import EMAIL
from mail import display
from mail.i18n import _, gettext, translate
from portal.auth import Portal, PortalDep
from portal.render import render
from portal.session import PageProblem, PartnerViewer, checked_form, checked_lists

router = APIRouter(include_in_schema=False)

SPECIAL_SEGMENTS = ("education", "government", "nonprofit")
DONE: dict[str, Text] = {
    "profile": trp("done", "Referral Profile saved. The next match uses it."),
    "pause": trp("done", "Referrals paused. Referrals you already hold stay yours."),
    "resume": trp("done", "Referrals resumed."),
    "users": trp("done", "Portal users saved. A user you removed is signed out at once."),
}
CHANGED_MEANWHILE = trp(
    "profile",
    "Your Referral Profile changed meanwhile (in another window, by a pause or by program "
    "support). Nothing was saved: the form shows the current values; make your change again.",
)
_SPLIT = re.compile(r"[\s,;]+")


async def recent_changes(portal: Portal, mpn_id: str) -> list[DirectoryEventRow]:
    """The partner's last directory changes (profile, pauses, tokens), newest first."""
    return list(reversed(await DirectoryAudit(portal.sessions).list(mpn_id=mpn_id, limit=20)))


async def _record(portal: Portal, mpn_id: str) -> PartnerRecord:
    record = await portal.directory.get(mpn_id)
    if record is None:
        raise PageProblem(404, _("Not found"), _("Your partner profile is not in the directory."))
    return record


def _values(p: PartnerProfile) -> dict[str, Any]:
    return {
        "languages": ", ".join(p.languages),
        "segments": [s for s in p.segments if s in SPECIAL_SEGMENTS],
        "min_seats": str(p.min_seats),
        "max_seats": "" if p.max_seats is None else str(p.max_seats),
        "countries": ", ".join(p.countries),
        "locale": p.effective_locale,
        "portal_users": "\n".join(p.portal_users),
    }


async def _page(
    request: Request,
    portal: Portal,
    mpn_id: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    kind: str = "ok",
    status_code: int = 200,
    version: int | None = None,
) -> HTMLResponse:
    record = await _record(portal, mpn_id)
    now = datetime.now(UTC)
    tz = record.profile.timezone
    ranking, found = await scorecards(portal.sessions, ranking_terms(portal.settings))
    own = next((r for m, _, r in found if m == mpn_id), TrackRecord())
    return render(
        request,
        "profile",
        status_code,
        title=_("Referral Profile"),
        nav="/profile",
        shows_times=True,
        p=record.profile,
        values={**_values(record.profile), **(values or {})},  # a form's own fields as sent
        version=record.version if version is None else version,
        errors=errors or {},
        message=message,
        kind=kind,
        segments=[(s, display.segment(s)) for s in SPECIAL_SEGMENTS],
        paused=is_paused(record.profile.paused_until, record.profile.timezone, now),
        min_pause=local_today(tz, now).isoformat(),
        max_pause=latest_pause_day(tz, now).isoformat(),
        audit=await recent_changes(portal, mpn_id),
        card=tr.scorecard(mpn_id, own, ranking),
        track=own,
        advice=[translate(text) for text in tr.advice_texts(own, ranking)],
    )


@router.get("/profile", response_class=HTMLResponse)
async def profile(
    request: Request, portal: PortalDep, viewer: PartnerViewer, done: str = ""
) -> HTMLResponse:
    assert viewer.mpn_id is not None
    message = translate(DONE[done]) if done in DONE else ""
    return await _page(request, portal, viewer.mpn_id, message=message)


def _codes(
    raw: str, known: frozenset[str], noun: str, errors: dict[str, str], key: str
) -> list[str]:
    """The codes in `raw`; unknown ones are reported with `noun` (a message with %(codes)s)."""
    codes = [c for c in _SPLIT.split(raw.strip()) if c]
    unknown = [c for c in codes if c.lower() not in {k.lower() for k in known}]
    if unknown:
        errors[key] = noun % {"codes": ", ".join(unknown[:5])}
    first: dict[str, str] = {}  # the directory's rule: one code once, whatever its case
    for code in codes:
        first.setdefault(code.lower(), code)
    return list(first.values())


def _seats(raw: str, errors: dict[str, str], key: str) -> int | None:
    raw = raw.strip().replace(",", "")
    if not raw:
        return None
    seats = whole_number(raw)
    if seats is None:
        errors[key] = _("Enter a whole number of seats.")
    return seats


@router.post("/profile", response_class=HTMLResponse)
async def save_profile(request: Request, portal: PortalDep, viewer: PartnerViewer) -> Response:
    assert viewer.mpn_id is not None
    form = await checked_lists(request, viewer)
    first = {k: v[0] for k, v in form.items() if v}
    blank = dict.fromkeys(("languages", "min_seats", "max_seats", "countries", "locale"), "")
    values: dict[str, Any] = {**blank, **first, "segments": form.get("segments", [])}
    errors: dict[str, str] = {}
    languages = [
        c.lower()
        for c in _codes(
            first.get("languages", ""),
            LANGUAGE_CODES,
            gettext("Unknown language code: %(codes)s."),
            errors,
            "languages",
        )
    ]
    countries = [
        c.upper()
        for c in _codes(
            first.get("countries", ""),
            COUNTRY_CODES,
            gettext("Unknown country code: %(codes)s."),
            errors,
            "countries",
        )
    ]
    if not languages and "languages" not in errors:
        errors["languages"] = _("Serve at least one language.")
    segments = [s for s in form.get("segments", []) if s in SPECIAL_SEGMENTS]
    min_seats = _seats(first.get("min_seats", ""), errors, "min_seats") or 0
    max_seats = _seats(first.get("max_seats", ""), errors, "max_seats")
    if max_seats is not None and max_seats < min_seats and "max_seats" not in errors:
        errors["max_seats"] = _("The largest size must not be below the smallest.")
    locale = parse_locale(first.get("locale", "")) if first.get("locale") else ""
    if locale is None:
        errors["locale"] = _("Choose a language from the list.")
    version = whole_number(first.get("version", ""))
    version = -1 if version is None else version
    if errors:
        return await _page(
            request,
            portal,
            viewer.mpn_id,
            values,
            errors,
            _("Nothing was saved: see the fields marked below."),
            "bad",
            422,
            version,
        )

    def change(stored: PartnerProfile) -> PartnerProfile:
        """The partner's fields from the form over the stored profile, validated."""
        keep = [s for s in stored.segments if s not in SPECIAL_SEGMENTS]
        edited = partner_update(
            stored,
            languages=languages,
            segments=keep + segments,
            min_seats=min_seats,
            max_seats=max_seats,
            countries=[c for c in countries if c != stored.home_country],
            locale=locale or stored.locale or None,
        )
        return parse_partner(partner_to_json(edited))

    try:  # audited when it changed
        await portal.directory.edit(viewer.mpn_id, version, change, datetime.now(UTC), viewer.actor)
    except ValidationError as err:
        return await _page(request, portal, viewer.mpn_id, values, {}, str(err), "bad", 422)
    except ChangedMeanwhile:
        return await _page(
            request,
            portal,
            viewer.mpn_id,
            message=translate(CHANGED_MEANWHILE),
            kind="bad",
            status_code=409,
        )
    return RedirectResponse("/profile?done=profile", status_code=303)


@router.post("/profile/users", response_class=HTMLResponse)
async def save_users(request: Request, portal: PortalDep, viewer: PartnerViewer) -> Response:
    """Who may sign in for the partner besides its referral contact (the partner's field)."""
    mpn_id = viewer.mpn_id
    assert mpn_id is not None
    form = await checked_form(request, viewer)
    raw = form.get("portal_users", "")
    users = list(dict.fromkeys(u for u in _SPLIT.split(raw.strip()) if u))
    version = whole_number(form.get("version", ""))
    version = -1 if version is None else version
    record = await _record(portal, mpn_id)
    values = {**_values(record.profile), "portal_users": raw}

    def refused(problem: str) -> Any:  # the form's version kept: a stale form stays stale
        errors = {"portal_users": problem}
        message = _("Nothing was saved: see the fields marked below.")
        return _page(request, portal, mpn_id, values, errors, message, "bad", 422, version)

    malformed = [u for u in users if not EMAIL.match(u) or len(u) > 254]
    if malformed:
        return await refused(
            gettext("Not an email address: %(email)s.") % {"email": malformed[0][:254]}
        )
    if not access.partner_user(viewer.email, record.profile.referral_contact, users):
        return await refused(
            _("Your own address stays in the list: another portal user can remove it.")
        )
    others = [
        (r.profile.mpn_id, r.profile.referral_contact, r.profile.portal_users)
        for r in await portal.directory.list()
    ]
    taken = [u for u in users if access.signs_in_elsewhere(u, mpn_id, others)]
    if taken:
        return await refused(
            gettext("%(email)s signs in for another partner already.") % {"email": taken[0]}
        )

    def change(stored: PartnerProfile) -> PartnerProfile:
        return parse_partner(partner_to_json(partner_update(stored, portal_users=users)))

    try:  # audited when it changed
        await portal.directory.edit(mpn_id, version, change, datetime.now(UTC), viewer.actor)
    except ValidationError:  # checked above, as the directory checks it
        return await refused(_("This list cannot be saved: check each address."))
    except ChangedMeanwhile:
        return await _page(
            request,
            portal,
            mpn_id,
            message=translate(CHANGED_MEANWHILE),
            kind="bad",
            status_code=409,
        )
    return RedirectResponse("/profile?done=users#users", status_code=303)


@router.post("/profile/pause", response_class=HTMLResponse)
async def pause(request: Request, portal: PortalDep, viewer: PartnerViewer) -> Response:
    assert viewer.mpn_id is not None
    form = await checked_form(request, viewer)
    now = datetime.now(UTC)
    error = ""
    try:
        until = date.fromisoformat(form.get("until", "").strip())
        await portal.directory.pause(viewer.mpn_id, until, now, viewer.actor)
    except PauseError as err:
        error = translate(err.text)
    except ValueError:
        error = _("Enter a date as YYYY-MM-DD.")
    if error:
        return await _page(
            request,
            portal,
            viewer.mpn_id,
            errors={"until": error},
            message=_("Referrals were not paused."),
            kind="bad",
            status_code=422,
        )
    return RedirectResponse("/profile?done=pause", status_code=303)


@router.post("/profile/resume", response_class=HTMLResponse)
async def resume(request: Request, portal: PortalDep, viewer: PartnerViewer) -> Response:
    assert viewer.mpn_id is not None
    await checked_form(request, viewer)
    now = datetime.now(UTC)
    await portal.directory.resume(viewer.mpn_id, now, viewer.actor)
    return RedirectResponse("/profile?done=resume", status_code=303)
