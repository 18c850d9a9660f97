"""The HTTP API in-process (httpx ASGITransport) against the real Redis of the session."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from typer.testing import CliRunner

from stream_app.api import create_app
from stream_app.api.scopes import Scope
from stream_app.cli.main import app as cli
from stream_app.decisions.evaluation import MembershipChange
from stream_app.decisions.lift import campaign_lift
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.connection import redis_client
from stream_app.storage.customers import Ask
from stream_app.storage.decisions import DecisionStore
from stream_app.storage.layout import Keys
from stream_app.storage.segments import SegmentStore
from tests.integration.api_support import client, customer, new_key, pending, seed_profile
from tests.integration.fixtures import commit, scanned_strata

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
JUST_BOUGHT = "Bought within the last minute (time alone takes a customer out)."
SEGMENTS = f"""
[[segments]]
name = "api_big"
description = "Many members, to page through."
expression = 'events > 0'

[[segments]]
name = "api_empty"
expression = 'events < 0'

[[segments]]
name = "api_just_bought"
description = "{JUST_BOUGHT}"
expression = 'recency_days >= 0.0 && recency_days * 1440.0 <= 1.0'
"""


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    segments = tmp_path / "segments.toml"
    segments.write_text(SEGMENTS)
    return settings.updated(segments={"file": segments}, api={"batch_max": 5})


@pytest.fixture
async def app(api_settings: Settings, redis: Redis) -> FastAPI:
    return create_app(api_settings, redis=redis, clock=lambda: NOW)


async def test_health_and_ready_need_no_key(app: FastAPI) -> None:
    async with client(app) as http:
        assert (await http.get("/health")).json() == {"status": "ok"}
        assert (await http.get("/ready")).json() == {"status": "ready"}


async def test_profile_lookup(app: FastAPI, api_settings: Settings, redis: Redis) -> None:
    ann = customer()
    await seed_profile(redis, api_settings, ann, NOW)
    token = await new_key(redis, api_settings, Scope.PROFILES_READ, now=NOW)
    async with client(app, token) as http:
        found = await http.get(f"/v1/profiles/{ann}")
        assert found.status_code == 200
        profile = found.json()
        assert profile["customer_id"] == ann
        assert profile["as_of"] == NOW.isoformat().replace("+00:00", "Z")
        assert profile["events"] == 4
        assert profile["value"]["orders"] == 1
        assert profile["value"]["monetary"] == {"amount": "10.00", "currency": "EUR"}
        assert profile["value"]["spend"] == {
            "EUR": {"gross": "10.00", "returned": "0.00", "net": "10.00"}
        }
        assert profile["value"]["fx_rates_date"] == str(api_settings.profiles.fx_rates_date)
        assert profile["traits"]["gender"] == "female"
        assert profile["cart"] == [{"item_id": "sku-1", "quantity": 1, "price": 40.0}]
        assert "email" not in str(profile)
        assert "h:" not in str(profile)

        missing = await http.get(f"/v1/profiles/{customer()}")
        assert (missing.status_code, missing.json()) == (404, {"detail": "profile not found"})
        assert (await http.get("/v1/profiles/not{a}tag")).status_code == 422
    async with client(app) as http:
        by_header = await http.get(f"/v1/profiles/{ann}", headers={"X-API-Key": token})
        assert by_header.status_code == 200


async def test_profile_as_of_a_time_derives_and_evaluates_segments_then(
    app: FastAPI, api_settings: Settings, redis: Redis
) -> None:
    """Read as of the order (ten minutes ago) the tastes are undecayed and the customer
    is in a segment that time alone took them out of; the stored profile is the same."""
    ann = customer()
    await seed_profile(redis, api_settings, ann, NOW)
    ordered = (NOW - timedelta(minutes=10)).isoformat()
    token = await new_key(redis, api_settings, Scope.PROFILES_READ, now=NOW)
    async with client(app, token) as http:
        now = (await http.get(f"/v1/profiles/{ann}")).json()
        then = (await http.get(f"/v1/profiles/{ann}", params={"as_of": ordered})).json()
        assert then["as_of"] == ordered.replace("+00:00", "Z")
        assert then["events"] == now["events"] == 4
        assert then["tastes"]["c:socks"] == 5.0 > now["tastes"]["c:socks"]
        assert then["value"]["recency_days"] == 0.0 < now["value"]["recency_days"]
        assert "api_just_bought" in then["segments"]
        assert "api_just_bought" not in now["segments"]
        assert "api_big" in now["segments"]
        batch = await http.post(
            "/v1/profiles/batch", json={"ids": [ann]}, params={"as_of": ordered}
        )
        assert batch.json()["profiles"] == [then]
        for bad in ((NOW + timedelta(seconds=1)).isoformat(), "2026-01-01T10:00:00", "0.5"):
            answer = await http.get(f"/v1/profiles/{ann}", params={"as_of": bad})
            assert answer.status_code == 422, bad


async def test_batch_returns_found_and_missing_and_caps_the_ids(
    app: FastAPI, api_settings: Settings, redis: Redis
) -> None:
    ann, bob, nobody = customer(), customer(), customer()
    for cid in (ann, bob):
        await seed_profile(redis, api_settings, cid, NOW)
    token = await new_key(redis, api_settings, Scope.PROFILES_READ, now=NOW)
    async with client(app, token) as http:
        answer = await http.post("/v1/profiles/batch", json={"ids": [bob, nobody, ann, bob]})
        assert answer.status_code == 200
        body = answer.json()
        assert [p["customer_id"] for p in body["profiles"]] == [bob, ann]
        assert body["not_found"] == [nobody]

        too_many = await http.post("/v1/profiles/batch", json={"ids": [ann] * 6})
        assert too_many.status_code == 422
        assert too_many.json()["detail"][0]["loc"] == ["body", "ids"]
        assert (await http.post("/v1/profiles/batch", json={"ids": []})).status_code == 422
    spec = app.openapi()["components"]["schemas"]["ProfileBatchRequest"]
    assert spec["properties"]["ids"]["maxItems"] == 5


async def test_segments_with_sizes_and_paginated_members(
    app: FastAPI, api_settings: Settings, redis: Redis
) -> None:
    members = {f"seg-{i:04d}" for i in range(300)}
    store = SegmentStore(redis, Keys(api_settings.redis.key_prefix), profile_ttl_s=3600)
    changes = [
        MembershipChange(cid, frozenset({"api_big"}), frozenset({"api_big"}), frozenset())
        for cid in members
    ]
    await commit(redis, lambda w: store.record(w, changes))
    token = await new_key(redis, api_settings, Scope.PROFILES_READ, now=NOW)
    async with client(app, token) as http:
        listed = (await http.get("/v1/segments")).json()["segments"]
        assert listed == [
            {"name": "api_big", "description": "Many members, to page through.", "size": 300},
            {"name": "api_empty", "description": "", "size": 0},
            {"name": "api_just_bought", "description": JUST_BOUGHT, "size": 0},
        ]
        seen: set[str] = set()
        pages, cursor = 0, "0"
        while cursor is not None:
            page = await http.get(
                "/v1/segments/api_big/members", params={"cursor": cursor, "limit": 50}
            )
            assert page.status_code == 200
            body = page.json()
            assert body["segment"] == "api_big"
            seen |= set(body["members"])
            cursor, pages = body["next_cursor"], pages + 1
            assert pages < 100
        assert seen == members
        assert pages > 2, "300 members in pages of about 50"

        empty = (await http.get("/v1/segments/api_empty/members")).json()
        assert empty == {"segment": "api_empty", "members": [], "next_cursor": None}
        assert (await http.get("/v1/segments/vip_unknown/members")).status_code == 404
        bad = await http.get("/v1/segments/api_big/members", params={"cursor": "-1"})
        assert bad.status_code == 422
        assert (
            await http.get("/v1/segments/api_big/members", params={"limit": 0})
        ).status_code == 422


async def test_customer_decisions_scheduled_and_recent(
    app: FastAPI, api_settings: Settings, redis: Redis
) -> None:
    ann = customer()
    store = DecisionStore(redis, Keys(api_settings.redis.key_prefix))
    later, sooner, sent = (
        pending(ann, "api_cart", NOW + timedelta(days=2), NOW),
        pending(ann, "api_cart", NOW + timedelta(days=1), NOW),
        pending(ann, "api_price", NOW, NOW),
    )
    await commit(
        redis,
        lambda w: store.schedule(w, [later, sooner, sent], ttl=timedelta(days=3)),
        lambda w: store.finish(w, [sent], [], NOW - timedelta(minutes=5), timedelta(days=1)),
    )
    token = await new_key(redis, api_settings, Scope.DECISIONS_READ, now=NOW)
    async with client(app, token) as http:
        body = (await http.get(f"/v1/customers/{ann}/decisions")).json()
        assert body["customer_id"] == ann
        assert [d["decision_id"] for d in body["scheduled"]] == [
            sooner.decision.decision_id,
            later.decision.decision_id,
        ]
        assert body["scheduled"][0]["explanation"] == "test decision"
        assert body["recent"] == [
            {
                "decision_id": sent.decision.decision_id,
                "campaign_id": "api_price",
                "channel": "push",
                "sent_at": (NOW - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
            }
        ]
        nobody = (await http.get(f"/v1/customers/{customer()}/decisions")).json()
        assert (nobody["scheduled"], nobody["recent"]) == ([], [])


async def test_lift_report(app: FastAPI, api_settings: Settings, redis: Redis) -> None:
    campaign = customer("api_lift")
    store_keys = Keys(api_settings.redis.key_prefix)
    store = DecisionStore(redis, store_keys)
    decisions = [pending(customer(), campaign, NOW, NOW) for _ in range(3)]
    await commit(redis, lambda w: store.finish(w, decisions, [], NOW, timedelta(days=1)))
    first = decisions[0].decision
    [window] = (
        await build_stores(redis, api_settings).customers.load([Ask(first.customer_id)], NOW)
    )[first.customer_id].windows
    await commit(redis, lambda w: store.convert(w, [(first.customer_id, window)]))
    # redelivered: the same batches again change no count
    await commit(redis, lambda w: store.finish(w, decisions, [], NOW, timedelta(days=1)))
    await commit(redis, lambda w: store.convert(w, [(first.customer_id, window)]))
    token = await new_key(redis, api_settings, Scope.REPORTS_READ, now=NOW)
    async with client(app, token) as http:
        report = (await http.get("/v1/reports/lift")).json()
        dashboard = (await http.get("/v1/dashboard")).json()
    [mine] = [c for c in report["campaigns"] if c["campaign_id"] == campaign]
    assert mine["treated"] == {"n": 3, "conversions": 1}
    assert mine["holdout"] == {"n": 0, "conversions": 0}
    assert mine["strata"][0]["name"] == "new"
    scanned = campaign_lift(campaign, await scanned_strata(redis, store_keys, campaign))
    assert mine == scanned.as_dict()
    assert [c for c in dashboard["lift"] if c["campaign_id"] == campaign] == [mine]


async def test_erasure_answers_202_and_forgets_the_customer(
    app: FastAPI, api_settings: Settings, redis: Redis
) -> None:
    ann = customer()
    await seed_profile(redis, api_settings, ann, NOW)
    planned = [pending(ann, "api_cart", NOW + timedelta(days=1), NOW)]
    store = DecisionStore(redis, Keys(api_settings.redis.key_prefix))
    await commit(redis, lambda w: store.schedule(w, planned, ttl=timedelta(days=2)))
    eraser = await new_key(redis, api_settings, Scope.PROFILES_ERASE, now=NOW)
    reader = await new_key(redis, api_settings, Scope.ADMIN, now=NOW)
    async with client(app, eraser) as http:
        for cid in (ann, ann, customer()):  # twice, and one never known: all alike
            answer = await http.delete(f"/v1/customers/{cid}")
            assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
    async with client(app, reader) as http:
        assert (await http.get(f"/v1/profiles/{ann}")).status_code == 404
        gone = (await http.get(f"/v1/customers/{ann}/decisions")).json()
        assert gone["scheduled"] == []


async def test_rate_limit_answers_429_with_retry_after(
    app: FastAPI, api_settings: Settings, redis: Redis
) -> None:
    token = await new_key(redis, api_settings, Scope.PROFILES_READ, rate=2, now=NOW)
    async with client(app, token) as http:
        codes = [(await http.get("/v1/segments")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = await http.get("/v1/segments")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60


async def test_access_log_names_routes_never_customers(
    app: FastAPI, api_settings: Settings, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    ann = customer()
    await seed_profile(redis, api_settings, ann, NOW)
    token = await new_key(redis, api_settings, Scope.ADMIN, now=NOW)
    with caplog.at_level(logging.INFO):
        async with client(app, token) as http:
            await http.get(f"/v1/profiles/{ann}")
            await http.post("/v1/profiles/batch", json={"ids": [ann]})
            await http.delete(f"/v1/customers/{ann}")
    # The httpx records are the test client's, not the server's.
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert any("GET /v1/profiles/{customer_id} 200" in line for line in lines), lines
    assert not [line for line in lines if ann in line]


def test_api_key_commands(api_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in api_settings.to_env().items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    created = runner.invoke(
        cli,
        [
            "api-key",
            "create",
            "--name",
            "crm",
            "--scope",
            "profiles:read",
            "--scope",
            "reports:read",
            "--rate-per-minute",
            "30",
        ],
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    assert token.startswith(f"sak_{key_id}_")

    listed = runner.invoke(cli, ["api-key", "list"])
    [line] = [line for line in listed.output.splitlines() if line.startswith(key_id)]
    assert "active" in line
    assert "profiles:read,reports:read" in line
    assert "30/min" in line
    assert token.split("_", 2)[2] not in listed.output

    assert runner.invoke(cli, ["api-key", "revoke", key_id]).exit_code == 0
    listed = runner.invoke(cli, ["api-key", "list"])
    assert "revoked" in next(line for line in listed.output.splitlines() if line.startswith(key_id))
    assert runner.invoke(cli, ["api-key", "revoke", "0000000000000000"]).exit_code == 1
    bad = runner.invoke(cli, ["api-key", "create", "--name", "x", "--scope", "profiles:write"])
    assert bad.exit_code != 0
    assert "unknown scope" in bad.output


def test_profile_command_reads_as_of_a_time(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in api_settings.to_env().items():
        monkeypatch.setenv(name, value)
    ann = customer()

    async def seed() -> None:
        redis = redis_client(api_settings)
        try:
            await seed_profile(redis, api_settings, ann, NOW)
        finally:
            await redis.aclose()

    asyncio.run(seed())
    ordered = (NOW - timedelta(minutes=10)).isoformat()
    runner = CliRunner()
    then = runner.invoke(cli, ["profile", ann, "--as-of", ordered])
    assert then.exit_code == 0, then.output
    shown = json.loads(then.output)
    assert (shown["customer_id"], shown["tastes"]["c:socks"]) == (ann, 5.0)
    assert "api_just_bought" in shown["segments"]
    later = runner.invoke(cli, ["profile", ann])
    assert "api_just_bought" not in json.loads(later.output)["segments"]
    assert runner.invoke(cli, ["profile", ann, "--as-of", "2026-01-01T10:00"]).exit_code != 0
    assert runner.invoke(cli, ["profile", customer()]).exit_code == 1
