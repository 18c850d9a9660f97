"""``/v1/profiles``: a customer's derived profile, one or a batch (scope profiles:read)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from stream_app.api.auth import scoped_router
from stream_app.api.deps import ApiContext, Context
from stream_app.api.errors import BAD_BODY, NOT_FOUND
from stream_app.api.models import (
    AsOfQuery,
    CustomerIdPath,
    Profile,
    ProfileBatch,
    ProfileBatchRequest,
)
from stream_app.api.scopes import Scope
from stream_app.profiles.derive import ProfileView, ValueRules, derive
from stream_app.profiles.state import ProfileState
from stream_app.segments.rules import SegmentRules

router = scoped_router("/v1/profiles", "profiles", Scope.PROFILES_READ)


# Declared before `/{customer_id}`: a wrong method on /batch then advertises `Allow: POST`.
@router.post(
    "/batch",
    summary="Several profiles at once (at most STREAM_APP_API__BATCH_MAX), as of now or a time.",
    responses=BAD_BODY,
)
async def get_profiles(
    body: ProfileBatchRequest, context: Context, as_of: AsOfQuery = None
) -> ProfileBatch:
    limit = context.settings.api.batch_max
    if len(body.ids) > limit:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("body", "ids"),
                    "msg": f"at most {limit} ids per request",
                    "input": len(body.ids),
                }
            ]
        )
    ids = list(dict.fromkeys(body.ids))
    found = await read_profiles(context, ids, as_of)
    return ProfileBatch(
        profiles=[p for p in found if p is not None],
        not_found=[cid for cid, p in zip(ids, found, strict=True) if p is None],
    )


@router.get(
    "/{customer_id}",
    summary="A customer's profile as of now, or as of a time.",
    responses=NOT_FOUND,
)
async def get_profile(
    customer_id: CustomerIdPath, context: Context, as_of: AsOfQuery = None
) -> Profile:
    [profile] = await read_profiles(context, [customer_id], as_of)
    if profile is None:
        raise HTTPException(404, "profile not found")
    return profile


async def read_profiles(
    context: ApiContext, ids: Sequence[str], as_of: datetime | None = None
) -> list[Profile | None]:
    """Each id's profile as of ``as_of`` (default: the clock's now), or None where none
    exists."""
    at = read_time(context.clock(), as_of)
    stored = await context.guard.call(lambda: context.profiles.stored(ids))
    rules = context.value_rules, context.segment_rules
    return [profile_at(state, at, *rules) if state.exists else None for state in stored]


def read_time(now: datetime, as_of: datetime | None) -> datetime:
    """The time a read derives at: ``as_of``, never after ``now`` (what is stored then
    says nothing of the future), by default ``now``."""
    if as_of is None:
        return now
    if as_of > now:
        raise RequestValidationError(
            [{"type": "less_than_equal", "loc": ("query", "as_of"), "msg": "in the future"}]
        )
    return as_of


def profile_at(
    state: ProfileState, at: datetime, value_rules: ValueRules, segment_rules: SegmentRules
) -> Profile:
    """The stored profile derived at ``at``, with the segments it is in then."""
    return profile_of(derive(state, at, value_rules), segment_rules)


def profile_of(view: ProfileView, segment_rules: SegmentRules) -> Profile:
    """A derived profile as the API shows it, with the segments it is in."""
    members, _ = segment_rules.evaluate(view)
    return Profile.model_validate({**view.as_dict(), "segments": sorted(members)})
