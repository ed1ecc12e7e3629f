"""Starting a referral's workflow: the one way every client (CLI, demo) creates referrals."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.readmodel import ReferralReadModel
from domain import names
from domain.models import Referral, ReferralInput, Status
from domain.summary import static_summary
from workflows import search_attributes as sa


def initial_attributes(r: Referral) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.REFERRAL_STATUS, Status.PENDING),
            SearchAttributePair(sa.REFERRAL_TYPE, r.type),
            SearchAttributePair(sa.WORKLOADS, list(r.workloads)),
            SearchAttributePair(sa.CUSTOMER_COUNTRY, r.customer.country),
            SearchAttributePair(sa.ESCALATED, False),
        ]
    )


async def start_referral(
    client: Client, task_queue: str, r: Referral, readmodel: ReferralReadModel
) -> bool:
    """Start the workflow (id = referral id); False when that referral already exists: the
    read model has seen the id (it keeps referrals Temporal has forgotten after retention,
    whose Message-IDs a new workflow would reuse), or Temporal holds a workflow with it."""
    if await readmodel.known(r.referral_id):
        return False
    try:
        await client.start_workflow(
            names.WORKFLOW_REFERRAL,
            ReferralInput(r),
            id=r.referral_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=static_summary(r),
            search_attributes=initial_attributes(r),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
