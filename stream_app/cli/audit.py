"""``stream-app audit``: recompute sampled profiles from retained events and compare them
with Redis, field by field (docs/audit.md). Exits 1 when something differs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import orjson
import typer

from stream_app.cli.audit_run import run_audit
from stream_app.clock import utc_now
from stream_app.profiles.recompute import Report, count_fields
from stream_app.settings import Settings


def audit(
    sample: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="fraction of customers to recompute, by a hash of the id "
            "(default: STREAM_APP_AUDIT__RECOMPUTE_RATE)",
        ),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="recompute from this event log (`stream-app replay`'s format) instead of "
            "the inbound topics' retained records",
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    limit: Annotated[int, typer.Option(min=0, help="mismatches listed in the table")] = 50,
) -> None:
    """Recompute sampled customers' profiles with the pure fold and compare with Redis."""
    settings = Settings()
    rate = settings.audit.recompute_rate if sample is None else sample
    report = asyncio.run(run_audit(settings, rate=rate, now=utc_now(), replay=replay))
    if json:
        typer.echo(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(render(report, limit))
    if report.mismatches:
        raise typer.Exit(1)


def render(report: Report, limit: int) -> str:
    """The report as text: totals, mismatches by field, then the first ``limit`` rows."""
    skipped = ", ".join(f"{why} {n}" for why, n in sorted(report.skipped.items())) or "none"
    rate = report.compared / report.elapsed_s if report.elapsed_s else 0.0
    lines = [
        f"sampled {report.sampled} customers ({report.events} events): compared "
        f"{report.compared}, skipped {skipped}; {rate:.0f} customers/s",
        f"mismatches: {len(report.mismatches)} in {report.customers_mismatched} customers",
    ]
    for name, n in count_fields(report.mismatches).most_common():
        lines.append(f"  {name:<24} {n}")
    if report.mismatches:
        lines.append(f"{'customer':<18} {'field':<28} {'recomputed':<24} stored")
    for m in report.mismatches[:limit]:
        lines.append(f"{m.customer:<18} {m.field:<28} {_short(m.expected):<24} {_short(m.stored)}")
    if len(report.mismatches) > limit:
        lines.append(f"... and {len(report.mismatches) - limit} more (--json lists all)")
    return "\n".join(lines)


def _short(value: object) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 24 else text[:21] + "..."
