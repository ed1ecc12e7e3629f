"""Validation of the contract's JSON: one-line `ValidationError` messages naming the object
and the field, e.g. ``partner 4711001: unknown workload 'skype' in workloads (allowed: ...)``.
"""

from domain.validation.codes import (
    COUNTRY_CODES,
    CUSTOMER_FIELDS,
    LANGUAGE_CODES,
    PARTNER_FIELDS,
    REFERRAL_FIELDS,
    REQUESTER_FIELDS,
)
from domain.validation.parsers import (
    load_partners,
    load_referrals,
    new_referral_id,
    parse_partner,
    parse_referral,
)
from domain.validation.reader import LARGEST_WHOLE, ValidationError, whole_number
from domain.validation.serializers import partner_to_json, referral_to_json

__all__ = [
    "COUNTRY_CODES",
    "CUSTOMER_FIELDS",
    "LANGUAGE_CODES",
    "LARGEST_WHOLE",
    "PARTNER_FIELDS",
    "REFERRAL_FIELDS",
    "REQUESTER_FIELDS",
    "ValidationError",
    "load_partners",
    "load_referrals",
    "new_referral_id",
    "parse_partner",
    "parse_referral",
    "partner_to_json",
    "referral_to_json",
    "whole_number",
]
