"""``stream-app api`` (serve, ``openapi``) and ``stream-app api-key create|list|revoke``."""

from __future__ import annotations

import asyncio
import logging.config
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer

from stream_app.api.api_key_store import ApiKey, ApiKeyStore
from stream_app.api.scopes import Scope, parse_scopes
from stream_app.api.tokens import InsecurePepperError, check_pepper
from stream_app.clock import utc_now
from stream_app.logs import logging_config
from stream_app.metrics.api import ApiMetrics
from stream_app.metrics.server import serve_metrics
from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client

api_app = typer.Typer(
    help="The HTTP API: serve it (no sub-command) or publish its OpenAPI spec.",
    invoke_without_command=True,
)
api_key_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)

SPEC = Path("docs/openapi.json")
T = TypeVar("T")
OUTPUT = typer.Option(SPEC, help="Where the spec is written.")
SCOPES = typer.Option(
    ..., "--scope", help=f"Repeat for several: {', '.join(s.value for s in Scope)}."
)


@api_app.callback()
def api(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Bind address (default: STREAM_APP_API__HOST)."),
    port: int | None = typer.Option(None, help="Port (default: STREAM_APP_API__PORT)."),
) -> None:
    """Serve the API with uvicorn until Ctrl-C (SIGINT/SIGTERM)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from stream_app.api import create_app

    settings = Settings()
    _require_pepper(settings)
    secret = settings.secrets.pseudonym_secret.get_secret_value().encode()
    logging.config.dictConfig(logging_config(settings.log.level, settings.log.format, secret))
    metrics = ApiMetrics()
    serve_metrics(metrics.registry, settings.metrics.api_port)
    uvicorn.run(
        create_app(settings, metrics=metrics),
        host=host or settings.api.host,
        port=port or settings.api.port,
        access_log=False,  # it prints raw paths, i.e. customer ids; see stream_app.api.logs
        log_config=None,
        server_header=False,
    )


@api_app.command("openapi")
def openapi(
    output: Path = OUTPUT,
    check: bool = typer.Option(False, "--check", help="Only verify the file is up to date."),
) -> None:
    """Write the OpenAPI spec of the API (or, with --check, fail when it drifted)."""
    from stream_app.api.openapi import openapi_spec, render

    spec = render(openapi_spec(Settings()))
    if check:
        if not output.is_file() or output.read_bytes() != spec:
            typer.echo(f"{output} is stale (run `stream-app api openapi`)", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(spec)
    typer.echo(f"wrote {output}")


@api_key_app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who or what uses the key (1-64 characters)."),
    scope: list[str] = SCOPES,
    rate_per_minute: int | None = typer.Option(
        None,
        "--rate-per-minute",
        help="Requests per minute (default: STREAM_APP_API__RATE_PER_MINUTE).",
    ),
) -> None:
    """Create a key and print it once: only its hash is stored."""
    settings = Settings()
    _require_pepper(settings)
    try:
        scopes = parse_scopes(scope)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None
    rate = rate_per_minute or settings.api.rate_per_minute

    async def run(store: ApiKeyStore) -> tuple[ApiKey, str]:
        return await store.create(name, scopes, rate, utc_now())

    try:
        key, token = asyncio.run(_with_store(settings, run))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"created key {key.key_id} ({name}; {_scopes(key)}; {rate}/min)")
    typer.echo("store it now, it is not shown again:")
    typer.echo(token)


@api_key_app.command("list")
def list_keys() -> None:
    """Every key: id, state, scopes, rate limit, created (secrets are never stored)."""

    async def run(store: ApiKeyStore) -> list[ApiKey]:
        return await store.all()

    keys = asyncio.run(_with_store(Settings(), run))
    if not keys:
        typer.echo("no API keys")
    for key in keys:
        state = "active" if key.revoked_at is None else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}Z"
        typer.echo(
            f"{key.key_id}  {state:<25} {key.rate_per_minute:>6}/min  "
            f"created {key.created_at:%Y-%m-%d %H:%M}Z  {_scopes(key):<40} {key.name}"
        )


@api_key_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key id (the part after `sak_`).")) -> None:
    """Revoke a key: its next request answers 401."""

    async def run(store: ApiKeyStore) -> bool:
        return await store.revoke(key_id, utc_now())

    if not asyncio.run(_with_store(Settings(), run)):
        typer.echo(f"no API key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


async def _with_store(settings: Settings, action: Callable[[ApiKeyStore], Awaitable[T]]) -> T:
    redis = redis_client(settings)
    try:
        pepper = settings.secrets.api_key_pepper.get_secret_value().encode()
        return await action(ApiKeyStore(redis, keys_of(settings), pepper))
    finally:
        await redis.aclose()


def _require_pepper(settings: Settings) -> None:
    try:
        check_pepper(settings)
    except InsecurePepperError as exc:
        raise typer.BadParameter(str(exc)) from None


def _scopes(key: ApiKey) -> str:
    return ",".join(sorted(key.scopes))
