"""``/v1/reports``: campaign lift, treated vs holdout; the funnel and the retention
of acquisition cohorts (scope reports:read)."""

from __future__ import annotations

from stream_app.api.auth import scoped_router
from stream_app.api.deps import Context
from stream_app.api.models import (
    CampaignLift,
    CohortRetention,
    CohortsReport,
    FunnelReport,
    FunnelRow,
    LiftReport,
)
from stream_app.api.scopes import Scope
from stream_app.decisions.funnel import CohortRow, rows
from stream_app.decisions.funnel_report import total

router = scoped_router("/v1/reports", "reports", Scope.REPORTS_READ)


@router.get("/lift", summary="Per campaign: conversion of treated vs holdout, with the lift.")
async def lift(context: Context) -> LiftReport:
    lifts = await context.guard.call(context.decisions.lifts)
    return LiftReport(campaigns=[CampaignLift.model_validate(x.as_dict()) for x in lifts])


async def _rows(context: Context, by_source: bool) -> list[CohortRow]:
    counts = await context.guard.call(context.funnel.read)
    return rows(counts, context.settings.funnel.retention_periods, by_source)


def _funnel_row(row: CohortRow) -> FunnelRow:
    return FunnelRow(cohort=row.cohort, source=row.source, stages=row.stages)


@router.get("/funnel", summary="Per acquisition cohort: customers reaching each AARRR stage.")
async def funnel(context: Context, by_source: bool = False) -> FunnelReport:
    found = await _rows(context, by_source)
    return FunnelReport(
        period=context.settings.funnel.period,
        total=_funnel_row(total(found, context.settings.funnel.retention_periods)),
        cohorts=[_funnel_row(row) for row in found],
    )


@router.get("/cohorts", summary="Per acquisition cohort: customers active again k periods later.")
async def cohorts(context: Context, by_source: bool = False) -> CohortsReport:
    found = await _rows(context, by_source)
    return CohortsReport(
        period=context.settings.funnel.period,
        cohorts=[
            CohortRetention(
                cohort=row.cohort,
                source=row.source,
                customers=row.stages["acquisition"],
                retained=row.retained,
            )
            for row in found
        ],
    )
