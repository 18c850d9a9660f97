"""``/v1/reports``: campaign lift, treated vs holdout (scope reports:read)."""

from __future__ import annotations

from fastapi import APIRouter, Security

from stream_app.api.auth import authorize
from stream_app.api.deps import Context
from stream_app.api.errors import AUTH_RESPONSES
from stream_app.api.models import CampaignLift, LiftReport
from stream_app.api.scopes import Scope

router = APIRouter(
    prefix="/v1/reports",
    tags=["reports"],
    dependencies=[Security(authorize, scopes=[Scope.REPORTS_READ])],
    responses=AUTH_RESPONSES,
)


@router.get("/lift", summary="Per campaign: conversion of treated vs holdout, with the lift.")
async def lift(context: Context) -> LiftReport:
    lifts = await context.guard.call(context.decisions.lifts)
    return LiftReport(campaigns=[CampaignLift.model_validate(x.as_dict()) for x in lifts])
