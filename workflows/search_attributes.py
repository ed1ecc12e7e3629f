"""Custom search attributes the referral workflow keeps current (no customer data here)."""

from temporalio.common import SearchAttributeKey

REFERRAL_STATUS = SearchAttributeKey.for_keyword("ReferralStatus")
REFERRAL_TYPE = SearchAttributeKey.for_keyword("ReferralType")
PARTNER_ID = SearchAttributeKey.for_keyword("PartnerId")
WORKLOADS = SearchAttributeKey.for_keyword_list("Workloads")
CUSTOMER_COUNTRY = SearchAttributeKey.for_keyword("CustomerCountry")
SLA_DUE_AT = SearchAttributeKey.for_datetime("SlaDueAt")
ESCALATED = SearchAttributeKey.for_bool("Escalated")
PARENT_REFERRAL = SearchAttributeKey.for_keyword("ParentReferral")
CONTACT_OVERDUE = SearchAttributeKey.for_bool("ContactOverdue")

ALL = (
    REFERRAL_STATUS,
    REFERRAL_TYPE,
    PARTNER_ID,
    WORKLOADS,
    CUSTOMER_COUNTRY,
    SLA_DUE_AT,
    ESCALATED,
    PARENT_REFERRAL,
    CONTACT_OVERDUE,
)
