"""The whole schema: every table module imported, so `metadata` holds all of them (what
Alembic compares against and what tests create). Table modules import `db.models.Base`;
nothing imports this module but those that need every table at once."""

from __future__ import annotations

from db import integration_models, models, portal_models, portal_prefs

metadata = models.Base.metadata
__all__ = ["integration_models", "metadata", "portal_models", "portal_prefs"]
