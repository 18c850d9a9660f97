"""The customer view: ``GET /v1/customers/{customer_id}/view`` (scope ``support``), and
``GET /customer``, the page that shows it (served like the dashboard: no key needed, it
holds no data; the key is typed into the page and kept in the tab).

The id travels in the request path only: the access log names the route template,
never the path (``api.logs``), and nothing here logs it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Security
from fastapi.responses import HTMLResponse

from stream_app.api.api_key_store import ApiKey
from stream_app.api.auth import authorize
from stream_app.api.deps import Context
from stream_app.api.errors import AUTH_RESPONSES, NOT_FOUND
from stream_app.api.models import CustomerIdPath, CustomerView, TimelineEntry
from stream_app.api.routes_dashboard import PAGE_HEADERS, page_text
from stream_app.api.routes_profiles import profile_of
from stream_app.api.scopes import Scope
from stream_app.api.support import count_lookup
from stream_app.decisions.policies import Sent
from stream_app.decisions.timeline import Entry, timeline
from stream_app.profiles.derive import derive
from stream_app.profiles.state import ProfileState
from stream_app.storage.decisions import PendingDecision

#: Most timeline entries a view shows (the log is capped; sent messages are 8 days').
TIMELINE_MAX = 100

router = APIRouter(tags=["customers"])


@router.get(
    "/v1/customers/{customer_id}/view",
    summary="One customer for support: profile, rhythm, and a timeline of decisions and "
    "suppressions with their reasons.",
    description="Value and life cycle, tastes, the hour-of-week rhythm, cart, segments, "
    "consent (and sentiment, where profiles have it), and why the customer got each message "
    "or did not. A `support` key's lookups are also limited by "
    "`STREAM_APP_API__SUPPORT_LOOKUPS_PER_MINUTE`.",
    responses={**AUTH_RESPONSES, **NOT_FOUND},
)
async def customer_view(
    customer_id: CustomerIdPath,
    context: Context,
    key: Annotated[ApiKey, Security(authorize, scopes=[Scope.SUPPORT])],
) -> CustomerView:
    await count_lookup(context, key)
    now = context.clock()

    async def read() -> tuple[ProfileState, list[PendingDecision], list[Sent], list[Entry]]:
        [state] = await context.profiles.stored([customer_id])
        planned, sent = await context.decisions.of_customer(customer_id, now)
        return state, planned, sent, await context.decision_log.read(customer_id)

    state, planned, sent, logged = await context.guard.call(read)
    if not state.exists:
        raise HTTPException(404, "customer not found")
    view = derive(state, now, context.value_rules)
    entries = timeline(logged, [p.decision for p in planned], sent, TIMELINE_MAX)
    return CustomerView(
        customer_id=customer_id,
        profile=profile_of(view, context.segment_rules),
        rhythm=[round(v, 4) for v in view.rhythm_local],
        timeline=[TimelineEntry.model_validate(asdict(e)) for e in entries],
    )


@router.get("/customer", include_in_schema=False)
async def page() -> HTMLResponse:
    """The customer view page (no key needed: it holds no data)."""
    return HTMLResponse(page_text("customer.html"), headers=PAGE_HEADERS)
