"""``stream-app capacity``: partitions, workers, Redis memory and shards for a deployment's
size, on paper (docs/capacity.md). A planning tool: it reads no settings and no server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from stream_app.capacity import (
    FIGURES,
    GB,
    MAX_FILL,
    Deployment,
    as_dict,
    assumptions,
    measured_from,
    overridden,
    plan,
    provenance,
    render,
)
from stream_app.settings.base import default_of, env_var

#: The benches' figures in a checkout of the repository (absent from an installed wheel).
LATEST_JSON = Path(__file__).resolve().parents[2] / "bench" / "results" / "latest.json"


def _default(name: str) -> Any:
    return default_of(Deployment, name)


def capacity(
    customers: int = typer.Option(..., "--customers", min=1, help="Customers known."),
    events_per_s: float = typer.Option(
        ..., "--events-per-s", min=0.001, help="Peak inbound events per second, all topics."
    ),
    active_share: float = typer.Option(
        _default("active_share"),
        "--active-share",
        min=0.0,
        max=1.0,
        help="Share of the customers active within the profile TTL (their profile is kept).",
    ),
    headroom: float = typer.Option(
        _default("headroom"), "--headroom", min=1.0, help="Worker capacity over the peak."
    ),
    shard_gb: float = typer.Option(
        _default("shard_gb"), "--shard-gb", min=0.001, help="RAM of one Redis shard, GB."
    ),
    extra_ids: int = typer.Option(
        _default("extra_ids_per_customer"),
        "--extra-ids-per-customer",
        min=0,
        help="Event ids per customer kept in the id index (a day of their events) beyond "
        "the bench's few.",
    ),
    live: float | None = typer.Option(
        None, "--live-events-per-s", min=0.001, help="One worker's live rate (measured)."
    ),
    backlog: float | None = typer.Option(
        None, "--backlog-events-per-s", min=0.001, help="One worker's backlog rate (measured)."
    ),
    scaling: float | None = typer.Option(
        None, "--scaling", min=0.01, max=1.0, help="Each worker's share when several run."
    ),
    bytes_per_customer: float | None = typer.Option(
        None, "--bytes-per-customer", min=1.0, help="Redis bytes of a customer's keys."
    ),
    bytes_per_id: float | None = typer.Option(
        None, "--bytes-per-id", min=0.1, help="Redis bytes of one id in the id index."
    ),
    results: Annotated[
        Path | None,
        typer.Option(
            "--results", help="Bench figures (default: the checkout's bench/results/latest.json)."
        ),
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """How many partitions, workers, Redis GB and shards a deployment needs, from the
    measured per-worker rate and bytes per customer, with the assumptions stated."""
    figures, source = _read_results(results)
    measured = overridden(
        measured_from(figures),
        live_events_per_s=live,
        backlog_events_per_s=backlog,
        scaling=scaling,
        bytes_per_customer=bytes_per_customer,
        bytes_per_id=bytes_per_id,
    )
    deployment = Deployment(
        customers=customers,
        events_per_s=events_per_s,
        active_share=active_share,
        headroom=headroom,
        shard_gb=shard_gb,
        extra_ids_per_customer=extra_ids,
    )
    result = plan(deployment, measured)
    applied = _apply(result.partitions_per_topic, result.workers, shard_gb)
    if as_json:
        data = as_dict(deployment, measured, result) | {"figures": source, "apply": applied}
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    lines = [render(result), "", f"Figures: {source}"]
    lines += [f"  {n}: {getattr(measured, n):g} ({measured.sources[n]})" for n in FIGURES]
    lines += ["", "Assumptions:"]
    lines += [f"- {line}" for line in assumptions(deployment, measured, result)]
    lines += ["", "To apply:", *(f"- {line}" for line in applied)]
    typer.echo("\n".join(lines))


def _read_results(path: Path | None) -> tuple[dict[str, Any], str]:
    """The bench figures and a sentence saying where they come from; none (the fallback
    constants) when the default file is absent."""
    chosen = path or LATEST_JSON
    if not chosen.is_file():
        if path is not None:
            raise typer.BadParameter(f"no such file: {path}", param_hint="--results")
        return {}, f"no {LATEST_JSON.name} here: fallback constants (docs/capacity.md)"
    try:
        figures = json.loads(chosen.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"unreadable: {exc}", param_hint="--results") from exc
    if not isinstance(figures, dict):
        raise typer.BadParameter("not a JSON object", param_hint="--results")
    return figures, f"{chosen}, {provenance(figures)}"


def _apply(partitions: int, workers: int, shard_gb: float) -> list[str]:
    """Where each figure goes: settings, manifests, Redis' configuration."""
    return [
        f"{env_var('kafka', 'topic_partitions')}={partitions} before the topics are first "
        "created (`stream-app topics create` leaves existing topics alone: add partitions "
        "with Kafka's own tools).",
        f"{workers} worker replicas (deploy/k8s/worker.yaml `replicas`, or "
        f"`docker compose up --scale worker={workers}`), one core each.",
        f"Redis `maxmemory` {MAX_FILL:.0%} of each shard's RAM "
        f"({round(shard_gb * GB * MAX_FILL)} bytes on one of {shard_gb:g} GB).",
    ]
