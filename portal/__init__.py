"""The partner portal: JSON API for partners and operators, and the email action-link pages.

`create_app(settings, client, sessions)` builds the FastAPI app; `python -m portal` serves it.
"""

from portal.app import create_app

__all__ = ["create_app"]
