"""OpenID Connect for operators: the issuer's metadata and keys, the authorization request
(code flow with PKCE S256, state and nonce), the code exchange, and the ID token checked with
joserfc (Authlib's JOSE implementation): signature against the issuer's JWKS, then `iss`,
`aud`, `exp` and `nonce`. Who is an operator is decided by `is_operator`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from settings import Settings

TIMEOUT_S = 10.0
METADATA_TTL_S = 600.0
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class OidcError(Exception):
    """Sign-in cannot go on (the message is one line, for the page)."""


@dataclass(frozen=True)
class Attempt:
    state: str
    nonce: str
    code_verifier: str


def new_attempt() -> Attempt:
    return Attempt(generate_token(32), generate_token(32), generate_token(64))


def is_operator(claims: dict[str, Any], settings: Settings) -> str | None:
    """The operator's email when the ID token makes them one: it carries the configured
    `claim=value` (a list claim must contain the value), or, without that setting, its
    verified email is in OPERATOR_EMAILS. None otherwise."""
    email = str(claims.get("email") or claims.get("preferred_username") or claims["sub"]).lower()
    rule = settings.oidc_operator_claim
    if rule:
        name, _, value = rule.partition("=")
        got = claims.get(name)
        ok = value in got if isinstance(got, list) else str(got) == value
        return email if ok else None
    verified = claims.get("email_verified") is True
    return email if verified and email in settings.operator_emails else None


@dataclass
class OidcClient:
    settings: Settings
    _metadata: dict[str, Any] = field(default_factory=dict)
    _fetched_at: float = 0.0

    @property
    def issuer(self) -> str:
        assert self.settings.oidc_issuer
        return self.settings.oidc_issuer

    @property
    def client_id(self) -> str:
        assert self.settings.oidc_client_id
        return self.settings.oidc_client_id

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as http:
                response = await http.get(url)
            response.raise_for_status()
            data: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise OidcError(f"the sign-in service did not answer properly ({err})") from None
        return data

    async def metadata(self) -> dict[str, Any]:
        if not self._metadata or time.monotonic() - self._fetched_at > METADATA_TTL_S:
            data = await self._get(f"{self.issuer}/.well-known/openid-configuration")
            if data.get("issuer") != self.issuer:
                raise OidcError("the sign-in service names another issuer than OIDC_ISSUER")
            self._metadata, self._fetched_at = data, time.monotonic()
        return self._metadata

    async def authorization_url(self, attempt: Attempt, redirect_uri: str) -> str:
        meta = await self.metadata()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid email profile",
            "state": attempt.state,
            "nonce": attempt.nonce,
            "code_challenge": create_s256_code_challenge(attempt.code_verifier),
            "code_challenge_method": "S256",
        }
        return f"{meta['authorization_endpoint']}?{urlencode(query)}"

    async def exchange(self, code: str, code_verifier: str, redirect_uri: str) -> str:
        """The ID token for an authorization code."""
        meta = await self.metadata()
        secret = self.settings.oidc_client_secret
        auth: httpx.Auth | None = (
            httpx.BasicAuth(self.client_id, secret.get_secret_value()) if secret else None
        )
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        if auth is None:
            form["client_id"] = self.client_id
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as http:
                response = await http.post(
                    meta["token_endpoint"], data=form, auth=auth or httpx.USE_CLIENT_DEFAULT
                )
            body: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise OidcError(f"the sign-in service did not answer properly ({err})") from None
        if response.status_code != 200 or "id_token" not in body:
            raise OidcError(f"the sign-in service refused the code ({body.get('error', '?')})")
        return str(body["id_token"])

    async def claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims once its signature, issuer, audience, expiry and nonce hold."""
        meta = await self.metadata()
        keys = KeySet.import_key_set(await self._get(meta["jwks_uri"]))  # type: ignore[arg-type]
        try:
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except JoseError as err:
            raise OidcError(f"the sign-in token is not valid ({err.error}: {err})") from None
        return dict(token.claims)
