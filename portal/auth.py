"""Who is calling: the portal's dependencies, partner bearer tokens and the operators' tokens."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from db.admin_tokens import ADMIN_TOKEN_PREFIX, AdminTokenStore
from db.directory import PartnerDirectory
from db.portal_store import PortalStore
from db.readmodel import ReferralReadModel
from db.tokens import TokenStore
from portal.background import Background
from portal.schemas import ApiError
from settings import Settings

ADMIN_SCOPE = "~operator"  # idempotency-key namespace of the admin API (never an MPN ID)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass
class Portal:
    """Everything a request handler needs, built once per app."""

    settings: Settings
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenStore
    admin_tokens: AdminTokenStore
    readmodel: ReferralReadModel
    directory: PartnerDirectory
    store: PortalStore
    background: Background

    @classmethod
    def build(
        cls, settings: Settings, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> Portal:
        return cls(
            settings=settings,
            client=client,
            sessions=sessions,
            tokens=TokenStore(sessions),
            admin_tokens=AdminTokenStore(sessions),
            readmodel=ReferralReadModel(sessions),
            directory=PartnerDirectory(sessions),
            store=PortalStore(sessions),
            background=Background(),
        )


def get_portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


partner_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="PartnerToken",
    description="a partner's API token (`python starter.py partners token MPN_ID`)",
)
admin_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="an operator's named token (`python starter.py admin tokens create NAME`), "
    "or the shared PORTAL_ADMIN_TOKEN",
)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers=_CHALLENGE)


PortalDep = Annotated[Portal, Depends(get_portal)]
PartnerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(partner_bearer)]
AdminCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)]


async def current_partner(portal: PortalDep, credentials: PartnerCredentials) -> str:
    """The MPN ID behind the bearer token; 401 when missing, unknown or revoked."""
    if credentials is None:
        raise unauthorized("send your partner token as 'Authorization: Bearer TOKEN'")
    mpn_id = await portal.tokens.verify(credentials.credentials)
    if mpn_id is None:
        raise unauthorized("this token is not valid (unknown or revoked)")
    return mpn_id


async def current_operator(portal: PortalDep, credentials: AdminCredentials) -> str:
    """Who acts through the admin API, as recorded: `operator:NAME` for a named token
    (`admin tokens create NAME`), `operator:admin-token` for the shared PORTAL_ADMIN_TOKEN.
    Without PORTAL_ADMIN_TOKEN only named tokens are accepted."""
    if credentials is None:
        raise unauthorized("send an operator token as 'Authorization: Bearer TOKEN'")
    given = credentials.credentials
    if given.startswith(ADMIN_TOKEN_PREFIX):
        name = await portal.admin_tokens.verify(given)
        if name is None:
            raise unauthorized("this operator token is not valid (unknown or revoked)")
        return f"operator:{name}"
    shared = portal.settings.portal_admin_token
    if not shared:
        raise ApiError(
            404, "not_found", "the admin API takes named tokens (admin tokens create NAME) only"
        )
    if not hmac.compare_digest(given.encode(), shared.get_secret_value().encode()):
        raise unauthorized("this admin token is not valid")
    return "operator:admin-token"
