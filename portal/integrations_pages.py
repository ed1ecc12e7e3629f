"""The partner's Integrations page: webhook endpoints (add, with the signing secret shown
once; rotate; remove), the last deliveries with their outcome and a "send again" button, and
where to find the API for incremental sync."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from db.audit import Actor
from db.webhooks import DISABLED, WebhookStore
from domain.text import Text, trp
from domain.validation import whole_number
from domain.webhooks import EVENT_TYPES, WebhookRuleError
from mail.i18n import _, translate
from portal.auth import Portal, PortalDep
from portal.render import render
from portal.session import PageProblem, PartnerViewer, Viewer, checked_form, checked_lists
from runtime.sealing import Sealer
from runtime.webhooks import UnknownPartnerError, send_again, subscribe

router = APIRouter(include_in_schema=False)

DONE: dict[str, Text] = {
    "removed": trp("done", "Endpoint removed: nothing more is sent to it."),
    "again": trp("done", "The event is being sent again (same id, same body)."),
}
# A delivery's status and an attempt's outcome, in words.
DELIVERY_WORDS: dict[str, Text] = {
    "pending": trp("delivery", "pending"),
    "delivered": trp("delivery", "delivered"),
    "failed": trp("delivery", "failed"),
    "refused": trp("delivery", "refused"),
    "error": trp("delivery", "error"),
    "http_error": trp("delivery", "HTTP error"),
    "withheld": trp("delivery", "withheld: you let the referral go"),
    "disabled": trp("delivery", "not sent: the endpoint is disabled"),
}


def _store(portal: Portal) -> WebhookStore:
    return WebhookStore(portal.sessions, Sealer.for_settings(portal.settings))


def _who(viewer: Viewer) -> Actor:
    return Actor(f"partner:{viewer.email}")


async def _page(
    request: Request,
    portal: Portal,
    mpn_id: str,
    *,
    message: str = "",
    kind: str = "ok",
    secret: str = "",
    error: str = "",
    url: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    store = _store(portal)
    deliveries = await store.recent(mpn_id, 20)
    return render(
        request,
        "integrations",
        status_code,
        title=_("Integrations"),
        nav="/integrations",
        subs=await store.list(mpn_id),
        deliveries=deliveries,
        shows_times=bool(deliveries),
        delivery_status=delivery_status,
        event_types=EVENT_TYPES,
        message=message,
        kind=kind,
        secret=secret,
        error=error,
        url=url,
        api_url=f"{portal.settings.portal_url}/api/referrals",
    )


async def _owned(portal: Portal, mpn_id: str, sub_id: str) -> int:
    number = whole_number(sub_id)
    if number is None:
        raise PageProblem(404, _("Not found"), _("There is no such endpoint."))
    sub = await _store(portal).get(number)
    if sub is None or sub.mpn_id != mpn_id:
        raise PageProblem(404, _("Not found"), _("There is no such endpoint."))
    return sub.id


@router.get("/integrations", response_class=HTMLResponse)
async def integrations(
    request: Request,
    portal: PortalDep,
    viewer: PartnerViewer,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    assert viewer.mpn_id is not None
    return await _page(request, portal, viewer.mpn_id, message=_done(done))


@router.post("/integrations/webhooks", response_class=HTMLResponse)
async def add_webhook(request: Request, portal: PortalDep, viewer: PartnerViewer) -> Response:
    assert viewer.mpn_id is not None
    form = await checked_lists(request, viewer)
    url = (form.get("url") or [""])[0][:2000]
    events = ",".join(e for e in form.get("events", []) if e in EVENT_TYPES)
    try:
        sub, secret = await subscribe(
            _store(portal), portal.settings, viewer.mpn_id, url, events, _who(viewer),
            datetime.now(UTC),
        )  # fmt: skip
    except WebhookRuleError as err:
        error = (
            translate(err.text)
            if err.text
            else _("This address may not be called: %(why)s", why=str(err))
        )
        return await _page(request, portal, viewer.mpn_id, error=error, url=url, status_code=422)
    except UnknownPartnerError as err:
        raise PageProblem(404, _("Not found"), _("There is no such partner.")) from err
    message = _(
        "Endpoint added. Copy its signing secret now: it is not shown again (%(url)s).",
        url=sub.url,
    )
    return await _page(request, portal, viewer.mpn_id, message=message, secret=secret)


@router.post("/integrations/webhooks/{sub_id}/rotate", response_class=HTMLResponse)
async def rotate_webhook(
    sub_id: str, request: Request, portal: PortalDep, viewer: PartnerViewer
) -> Response:
    assert viewer.mpn_id is not None
    await checked_form(request, viewer)
    owned = await _owned(portal, viewer.mpn_id, sub_id)
    secret = await _store(portal).rotate(owned, _who(viewer), datetime.now(UTC))
    message = _("New signing secret (shown once); the endpoint is enabled. The old one stops now.")
    return await _page(request, portal, viewer.mpn_id, message=message, secret=secret or "")


@router.post("/integrations/webhooks/{sub_id}/remove")
async def remove_webhook(
    sub_id: str, request: Request, portal: PortalDep, viewer: PartnerViewer
) -> Response:
    assert viewer.mpn_id is not None
    await checked_form(request, viewer)
    owned = await _owned(portal, viewer.mpn_id, sub_id)
    await _store(portal).remove(owned, _who(viewer), datetime.now(UTC))
    return RedirectResponse("/integrations?done=removed", status_code=303)


@router.post("/integrations/deliveries/{event_id}/again")
async def deliver_again(
    event_id: str, request: Request, portal: PortalDep, viewer: PartnerViewer
) -> Response:
    assert viewer.mpn_id is not None
    await checked_form(request, viewer)
    store = _store(portal)
    answer = await send_again(portal.client, store, portal.settings, event_id[:64], viewer.mpn_id)
    if answer is None:
        raise PageProblem(404, _("Not found"), _("There is no such delivery."))
    if answer == DISABLED:
        raise PageProblem(
            409,
            _("Endpoint disabled"),
            _("The endpoint is disabled: rotate its signing secret to enable it, then send again."),
        )
    return RedirectResponse("/integrations?done=again", status_code=303)


def delivery_status(code: str) -> str:
    """A delivery's status or an attempt's outcome in the page's language."""
    text = DELIVERY_WORDS.get(code)
    return translate(text) if text else code


def _done(code: str) -> str:
    text = DONE.get(code)
    return translate(text) if text else ""
