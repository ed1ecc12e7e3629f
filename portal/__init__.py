"""The partner portal: JSON API for partners and operators, and the email action-link pages.

`create_app(settings, client, sessions)` builds the FastAPI app; `python -m portal` serves it.
The app is imported on first use, so that the worker, which only needs the portal's view of a
referral for webhook events (`portal.webhook_view`), does not load the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from portal.app import create_app

        return create_app
    raise AttributeError(f"module 'portal' has no attribute {name!r}")
