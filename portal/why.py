"""Why a referral came to a partner, in the partner's words (the match's explanation without
its internal ranking keys)."""

from __future__ import annotations

from datetime import datetime

from domain.models import MatchExplanation
from mail import formats
from mail.i18n import _, _n


def why_in_words(explanation: MatchExplanation) -> list[str]:
    lines = []
    if explanation.cpor == "chosen":
        lines.append(
            _(
                "You have a CPOR claim (claiming partner of record) on this customer for the "
                "requested workloads, so the referral came to you first."
            )
        )
    if explanation.candidates:
        lines.append(
            _n(
                "%(eligible)s of %(n)s partner could take this referral: opted in for its "
                "type, endorsed for its workloads, serving its language, segment, size and "
                "country, and not paused.",
                "%(eligible)s of %(n)s partners could take this referral: opted in for its "
                "type, endorsed for its workloads, serving its language, segment, size and "
                "country, and not paused.",
                explanation.candidates,
                eligible=explanation.eligible,
            )
        )
    keys = explanation.rank_keys
    if keys.get("rule") == "cpor":
        return lines
    load = keys.get("load", "")
    open_now, _sep, limit = load.partition("/")
    if open_now.isdigit():
        count = int(open_now)
        lines.append(
            _n(
                "Among them it goes to the partner with the fewest open referrals: you had "
                "%(n)s open.",
                "Among them it goes to the partner with the fewest open referrals: you had "
                "%(n)s open.",
                count,
            )
            + (" " + _("Your limit: %(limit)s.", limit=limit) if limit.isdigit() else "")
        )
    last = keys.get("last_assigned", "")
    if last == "never":
        lines.append(
            _(
                "Between partners with as many open referrals, it goes to the one who has "
                "waited longest: this was your first referral."
            )
        )
    elif last:
        try:
            when = datetime.fromisoformat(last)
        except ValueError:
            return lines
        lines.append(
            _(
                "Between partners with as many open referrals, it goes to the one who has "
                "waited longest: your previous referral came on %(when)s.",
                when=formats.moment_long(when, named=False),
            )
        )
    return lines
