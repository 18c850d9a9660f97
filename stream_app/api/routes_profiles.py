"""``/v1/profiles``: a customer's derived profile, one or a batch (scope profiles:read)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from stream_app.api.auth import scoped_router
from stream_app.api.deps import ApiContext, Context
from stream_app.api.errors import BAD_BODY, NOT_FOUND
from stream_app.api.models import CustomerIdPath, Profile, ProfileBatch, ProfileBatchRequest
from stream_app.api.scopes import Scope
from stream_app.profiles.derive import derive

router = scoped_router("/v1/profiles", "profiles", Scope.PROFILES_READ)


# Declared before `/{customer_id}`: a wrong method on /batch then advertises `Allow: POST`.
@router.post(
    "/batch",
    summary="Several profiles at once (at most STREAM_APP_API__BATCH_MAX).",
    responses=BAD_BODY,
)
async def get_profiles(body: ProfileBatchRequest, context: Context) -> ProfileBatch:
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
    found = await read_profiles(context, ids)
    return ProfileBatch(
        profiles=[p for p in found if p is not None],
        not_found=[cid for cid, p in zip(ids, found, strict=True) if p is None],
    )


@router.get("/{customer_id}", summary="A customer's profile as of now.", responses=NOT_FOUND)
async def get_profile(customer_id: CustomerIdPath, context: Context) -> Profile:
    [profile] = await read_profiles(context, [customer_id])
    if profile is None:
        raise HTTPException(404, "profile not found")
    return profile


async def read_profiles(context: ApiContext, ids: Sequence[str]) -> list[Profile | None]:
    """Each id's profile derived at the clock's now, or None where none exists."""
    stored = await context.guard.call(lambda: context.profiles.stored(ids))
    now = context.clock()
    return [
        Profile.model_validate(derive(s, now, context.value_rules).as_dict()) if s.exists else None
        for s in stored
    ]
