"""``/v1/customers``: a customer's decisions (decisions:read or support) and erasure
(profiles:erase); their view is in ``routes_view``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Security

from stream_app.api.api_key_store import ApiKey
from stream_app.api.auth import authorize
from stream_app.api.deps import Context
from stream_app.api.errors import AUTH_RESPONSES
from stream_app.api.models import Accepted, CustomerDecisions, CustomerIdPath, SentMessage
from stream_app.api.scopes import Scope
from stream_app.api.support import count_lookup

router = APIRouter(prefix="/v1/customers", tags=["customers"], responses=AUTH_RESPONSES)


@router.get(
    "/{customer_id}/decisions",
    summary="Decisions planned for a customer and messages recently sent to them.",
)
async def customer_decisions(
    customer_id: CustomerIdPath,
    context: Context,
    key: Annotated[ApiKey, Security(authorize, scopes=[Scope.DECISIONS_READ, Scope.SUPPORT])],
) -> CustomerDecisions:
    await count_lookup(context, key)
    planned, sent = await context.guard.call(
        lambda: context.decisions.of_customer(customer_id, context.clock())
    )
    return CustomerDecisions(
        customer_id=customer_id,
        scheduled=[p.decision for p in planned],
        recent=[
            SentMessage(
                decision_id=s.decision_id,
                campaign_id=s.campaign_id,
                channel=s.channel,
                sent_at=s.at,
            )
            for s in sent
        ],
    )


@router.delete(
    "/{customer_id}",
    status_code=202,
    summary="Right to erasure: forget the customer everywhere.",
    description="Answers 202 whether or not the customer was known (existence is never "
    "revealed). Every anonymous id linked to the customer is erased with them. Erasure is "
    "idempotent: after a 503, send the request again.",
    dependencies=[Security(authorize, scopes=[Scope.PROFILES_ERASE])],
)
async def erase_customer(customer_id: CustomerIdPath, context: Context) -> Accepted:
    await context.guard.call(lambda: context.erasure.erase(customer_id, context.clock()))
    return Accepted()
