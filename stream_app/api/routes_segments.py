"""``/v1/segments``: definitions, sizes and members page by page (scope profiles:read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError

from stream_app.api.auth import scoped_router
from stream_app.api.deps import Context
from stream_app.api.errors import NOT_FOUND
from stream_app.api.models import Segment, SegmentList, SegmentMembers
from stream_app.api.scopes import Scope
from stream_app.events.base import Identifier

#: Redis' SCAN cursors are unsigned 64-bit integers.
MAX_CURSOR = 2**64 - 1

router = scoped_router("/v1/segments", "segments", Scope.PROFILES_READ)


@router.get("", summary="Every configured segment with its current size.")
async def list_segments(context: Context) -> SegmentList:
    definitions = context.segment_rules.definitions
    names = [d.name for d in definitions]
    sizes = await context.guard.call(lambda: context.segments.sizes(names))
    return SegmentList(
        segments=[
            Segment(name=d.name, description=d.description, size=sizes[d.name]) for d in definitions
        ]
    )


@router.get(
    "/{name}/members",
    summary="Customer ids in a segment, one page per call (Redis SSCAN).",
    description="Start with `cursor=0` and pass each `next_cursor` back until it is null. "
    "`limit` is a hint: a page may hold somewhat more or fewer ids; a customer who stays in "
    "the segment for the whole walk is listed at least once.",
    responses=NOT_FOUND,
)
async def segment_members(
    name: Annotated[Identifier, Path(description="Segment name.")],
    context: Context,
    cursor: Annotated[
        str, Query(pattern=r"^(0|[1-9][0-9]{0,19})$", description="Where to continue.")
    ] = "0",
    limit: Annotated[int, Query(ge=1, le=1000, description="Ids wanted per page.")] = 100,
) -> SegmentMembers:
    if int(cursor) > MAX_CURSOR:
        raise RequestValidationError(
            [{"type": "less_than_equal", "loc": ("query", "cursor"), "msg": "not a cursor"}]
        )
    if name not in {d.name for d in context.segment_rules.definitions}:
        raise HTTPException(404, "segment not found")
    after, members = await context.guard.call(
        lambda: context.segments.members_page(name, int(cursor), limit)
    )
    return SegmentMembers(
        segment=name, members=members, next_cursor=None if after == 0 else str(after)
    )
