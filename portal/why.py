"""Why a referral came to a partner, in the partner's words (the match's explanation without
its internal ranking keys). Under `RANKING=track_record` it names the score the match read,
what it is made of, its band, and the rule that put the partner ahead of the next one
(`domain.track_record.tie_rule`); under rotation, the open count and the last assignment."""

from __future__ import annotations

from datetime import datetime

from domain import track_record as tr
from domain.models import MatchExplanation, ScoreCard
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
    if explanation.score is not None:
        lines.extend(score_in_words(explanation.score))
        rule = explanation.tie_rule
        if not rule.startswith(tr.SAME_BAND):
            lines.extend(tie_rule_in_words(rule))
            return lines
        if explanation.score.standing == tr.NEWCOMER:
            lines.append(
                _(
                    "Another newcomer was eligible too; between newcomers the partners share "
                    "the work:"
                )
            )
        else:
            lines.append(
                _(
                    "Another eligible partner was in your score band; inside a band the "
                    "partners share the work:"
                )
            )
    lines.extend(rotation_in_words(keys))
    if explanation.score is not None and explanation.tie_rule.endswith(tr.LOWEST_MPN_ID):
        lines.append(_("Between partners equal in all of that, the lowest MPN ID comes first."))
    return lines


def score_in_words(card: ScoreCard) -> list[str]:
    """The partner's score as the match read it, and what it is made of."""
    if card.standing == tr.NEWCOMER:
        return [
            _(
                "You had no offer yet: a newcomer gets the first referral it is eligible for "
                "before anyone else."
            )
        ]
    lines = [
        _n(
            "Your score was %(score)s (band %(band)s), the estimated chance that an offer to "
            "you ends accepted in time and delivered, from %(n)s offer: %(accepted)s accepted "
            "in time, %(expired)s expired, %(declined)s declined by you, %(completed)s "
            "completed; shrunk toward the program's average (%(average)s).",
            "Your score was %(score)s (band %(band)s), the estimated chance that an offer to "
            "you ends accepted in time and delivered, from %(n)s offers: %(accepted)s accepted "
            "in time, %(expired)s expired, %(declined)s declined by you, %(completed)s "
            "completed; shrunk toward the program's average (%(average)s).",
            card.offers,
            score=formats.fixed(card.score, 2),
            band=card.band,
            accepted=card.accepted,
            expired=card.expired,
            declined=card.declined_partner,
            completed=card.completed,
            average=formats.fixed(card.average, 2),
        )
    ]
    if card.standing == tr.NEEDS_ATTENTION:
        lines.append(
            _("Your score is below the floor: you stay eligible but are offered referrals last.")
        )
    return lines


def tie_rule_in_words(rule: str) -> list[str]:
    """The rules decided before the rotation inside a band (`domain.track_record.tie_rule`)."""
    if rule == tr.ONLY_ELIGIBLE:
        return [_("You were the only eligible partner.")]
    if rule == tr.HIGHER_BAND:
        return [
            _(
                "Among them the partners in the highest score band come first: yours was "
                "higher than the next eligible partner's."
            )
        ]
    if rule == tr.RUNNER_UP_BELOW_FLOOR:
        return [_("The next eligible partner was below the floor, so it came after you.")]
    return []  # NEWCOMER_FIRST: said with the score


def rotation_in_words(keys: dict[str, str]) -> list[str]:
    """The rotation order: fewest open referrals, then the longest wait."""
    lines: list[str] = []
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
