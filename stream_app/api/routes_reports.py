"""``/v1/reports``: campaign lift, treated vs holdout (scope reports:read)."""

from __future__ import annotations

from stream_app.api.auth import scoped_router
from stream_app.api.deps import Context
from stream_app.api.models import CampaignLift, LiftReport
from stream_app.api.scopes import Scope

router = scoped_router("/v1/reports", "reports", Scope.REPORTS_READ)


@router.get("/lift", summary="Per campaign: conversion of treated vs holdout, with the lift.")
async def lift(context: Context) -> LiftReport:
    lifts = await context.guard.call(context.decisions.lifts)
    return LiftReport(campaigns=[CampaignLift.model_validate(x.as_dict()) for x in lifts])
