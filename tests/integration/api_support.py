"""Helpers for the API tests: keys, in-process clients, and data written through the stores."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from stream_app.api.api_key_store import ApiKeyStore
from stream_app.api.scopes import Scope
from stream_app.decisions.timeline import Why, decided, not_sent
from stream_app.events.clickstream import AddToCart, AppOpen
from stream_app.events.decision import Content, Decision
from stream_app.events.identity import Traits
from stream_app.events.purchase import LineItem, Purchase
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.decisions import PendingDecision
from stream_app.storage.layout import Keys
from tests.integration.fixtures import commit, write_profiles


def key_store(redis: Redis, settings: Settings) -> ApiKeyStore:
    pepper = settings.secrets.api_key_pepper.get_secret_value().encode()
    return ApiKeyStore(redis, Keys(settings.redis.key_prefix), pepper)


async def new_key(
    redis: Redis, settings: Settings, *scopes: Scope, rate: int = 100_000, now: datetime
) -> str:
    """A fresh key's token (a high rate unless a test is about rate limits)."""
    _, token = await key_store(redis, settings).create("test", scopes, rate, now)
    return token


async def admin_key(settings: Settings) -> str:
    """A fresh admin key's token, through a Redis client of its own (for tests that hold
    none: a fixture of another event loop, a browser test)."""
    redis = Redis.from_url(settings.redis.url)
    try:
        return await new_key(redis, settings, Scope.ADMIN, now=datetime.now(UTC))
    finally:
        await redis.aclose()


def client(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    """An in-process client (no socket) sending ``token`` as a Bearer key."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api", headers=headers
    )


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan (ASGITransport does not), so a client it owns is closed."""
    async with app.router.lifespan_context(app):
        yield app


def customer(prefix: str = "api") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def seed_profile(redis: Redis, settings: Settings, customer_id: str, now: datetime) -> None:
    """A profile with traits, a visit, an order and then a cart line, written by the real store."""
    at = now - timedelta(minutes=10)
    common = {"customer_id": customer_id, "event_time": at}
    events = [
        Traits(
            type="traits",
            event_id=f"{customer_id}-t",
            gender="female",
            birth_year=1990,
            timezone="Europe/Berlin",
            **common,
        ),
        AppOpen(type="app_open", event_id=f"{customer_id}-a", **common),
        AddToCart(
            type="add_to_cart",
            event_id=f"{customer_id}-c",
            item_id="sku-1",
            category="shoes",
            price=40.0,
            customer_id=customer_id,
            event_time=at + timedelta(minutes=1),  # after the order, which empties the cart
        ),
        Purchase(
            type="purchase",
            event_id=f"{customer_id}-p",
            order_id=f"o-{customer_id}",
            items=[LineItem(item_id="sku-2", category="socks", quantity=2, unit_price=5.0)],
            total=10.0,
            currency="EUR",
            **common,
        ),
    ]
    config = FoldConfig(pseudonym_secret=b"test", cart_abandon_delay=None)
    updates = [fold(event, customer_id, config) for event in events]
    await write_profiles(redis, settings, updates, now)


def pending(
    customer_id: str, campaign_id: str, send_at: datetime, now: datetime
) -> PendingDecision:
    """A planned decision as the decider stores it."""
    decision = Decision(
        decision_id=f"dec-{uuid.uuid4().hex[:12]}",
        customer_id=customer_id,
        campaign_id=campaign_id,
        channel="push",
        content=Content(template="cart_reminder", offer="free_shipping"),
        decided_at=now,
        send_at=send_at,
        expires_at=send_at + timedelta(hours=2),
        trigger="cart_abandonment",
        explanation="test decision",
    )
    return PendingDecision(
        decision=decision,
        stratum="new",
        goal="purchase",
        goal_window=timedelta(days=1),
        trigger_at=now,
        cooldown=timedelta(hours=1),
    )


async def customer_with_a_timeline(settings: Settings) -> tuple[str, str]:
    """A seeded customer with a message sent and one suppressed (as the worker logs them),
    and a support key's token, through a Redis client of its own (for the browser test)."""
    redis = Redis.from_url(settings.redis.url)
    now = datetime.now(UTC)
    cid = customer("view")
    try:
        await seed_profile(redis, settings, cid, now)
        then = now - timedelta(minutes=3)
        sent = pending(cid, "cart_abandonment", then, then).decision
        entries = [
            decided("sent", sent, then),
            not_sent("dec-other", Why("winback", "cap_day", "day cap: 3 of 3 used"), now),
        ]
        log = build_stores(redis, settings).decision_log
        await commit(redis, lambda w: log.append(w, cid, entries))
        return cid, await new_key(redis, settings, Scope.SUPPORT, now=now)
    finally:
        await redis.aclose()
