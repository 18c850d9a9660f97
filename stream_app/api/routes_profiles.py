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
from stream_app.profiles.derive import derive
from stream_app.profiles.state import ProfileState

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
    """Each id's profile derived as of ``as_of`` (default: the clock's now), segments
    evaluated then, or None where none exists."""
    now = context.clock()
    if as_of is not None and as_of > now:
        raise RequestValidationError(
            [{"type": "less_than_equal", "loc": ("query", "as_of"), "msg": "in the future"}]
        )
    at = now if as_of is None else as_of
    stored = await context.guard.call(lambda: context.profiles.stored(ids))
    return [_profile(context, state, at) if state.exists else None for state in stored]


def _profile(context: ApiContext, state: ProfileState, at: datetime) -> Profile:
    view = derive(state, at, context.value_rules)
    members, _ = context.segment_rules.evaluate(view)
    return Profile.model_validate({**view.as_dict(), "segments": sorted(members)})
