"""The customer view's pure parts: the timeline, the log's members and capping, the
support key's lookup limit, and the page (no inline code, no remote assets)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from stream_app.api import create_app
from stream_app.api.api_key_store import ApiKey
from stream_app.api.scopes import Scope, parse_scopes
from stream_app.api.support import counts_lookups
from stream_app.clock import to_ms
from stream_app.decisions.policies import Sent
from stream_app.decisions.timeline import Why, decided, not_sent, timeline
from stream_app.events.decision import Content, Decision
from stream_app.settings import Settings
from stream_app.storage.commit import Writes
from stream_app.storage.decision_log import DecisionLog, entry_member, parse_entry
from stream_app.storage.layout import Keys

API = Path(__file__).resolve().parents[2] / "stream_app" / "api"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def decision(did: str, at: datetime, *, holdout: bool = False) -> Decision:
    return Decision(
        decision_id=did,
        customer_id="c-1",
        campaign_id="price_drop",
        channel="push",
        content=Content(template="price_drop"),
        decided_at=at,
        send_at=at + timedelta(minutes=5),
        expires_at=at + timedelta(hours=1),
        holdout=holdout,
        explanation="viewed it yesterday; now 21% cheaper",
    )


# --- the timeline --------------------------------------------------------------------


def test_timeline_is_newest_first_each_step_once_with_the_logs_explanation() -> None:
    planned = decision("d-1", T0)
    logged = [
        decided("sent", planned, T0 + timedelta(minutes=5)),
        decided("planned", planned, T0),
        not_sent("d-2", Why("winback", "cap_day", "day cap: 3 of 3 already used"), T0 - MINUTE),
    ]
    sent = [Sent("d-1", "price_drop", "push", T0 + timedelta(minutes=5))]
    shown = timeline(logged, [planned], sent, limit=10)
    assert [(e.kind, e.decision_id) for e in shown] == [
        ("sent", "d-1"),
        ("planned", "d-1"),
        ("suppressed", "d-2"),
    ]
    assert shown[0].why == planned.explanation, "the log's entry, not the bare contact"
    assert shown[2].detail == "day cap: 3 of 3 already used"


def test_timeline_fills_in_what_the_log_lost_and_caps_at_the_limit() -> None:
    sent = [Sent(f"d-{i}", "cart", "email", T0 - timedelta(hours=i)) for i in range(5)]
    pending = decision("d-new", T0 + timedelta(hours=1))
    shown = timeline([], [pending], sent, limit=3)
    assert [e.decision_id for e in shown] == ["d-new", "d-0", "d-1"]
    assert shown[0].kind == "planned"
    assert shown[0].send_at == pending.send_at
    assert shown[1].why == ""
    assert shown[1].channel == "email"


def test_a_held_out_decision_and_a_cancellation_are_named_so() -> None:
    held = decided("held_out", decision("d-h", T0, holdout=True), T0)
    cancelled = not_sent("d-c", Why("cart_abandonment", "goal_reached", "bought it"), T0)
    returned = not_sent("d-r", Why("cross_sell", "returned"), T0)
    audience = not_sent("d-a", Why("vip_only", "audience"), T0)
    assert (held.kind, cancelled.kind, returned.kind, audience.kind) == (
        "held_out",
        "cancelled",
        "cancelled",
        "suppressed",
    )


# --- the log in Redis ----------------------------------------------------------------


def test_a_member_depends_on_the_entry_alone_and_round_trips() -> None:
    entry = decided("planned", decision("d-1", T0), T0)
    again = decided("planned", decision("d-1", T0), T0 + timedelta(seconds=3))
    assert entry_member(entry) == entry_member(again), "a retried pass adds no member"
    assert parse_entry(entry_member(entry), to_ms(T0)) == entry
    assert b"c-1" not in entry_member(entry), "the customer id is in the key, not the entry"


def test_append_rides_in_the_pass_writes_and_trims_to_the_length() -> None:
    log = DecisionLog(None, Keys("sa"), length=30, kept=timedelta(days=30))  # type: ignore[arg-type]
    writes = Writes()
    log.append(writes, "c-1", [])
    assert not writes, "nothing to log: no command"
    entries = [not_sent(f"d-{i}", Why("winback", "cooldown"), T0) for i in range(3)]
    log.append(writes, "c-1", entries)
    zadd, trim, expire = writes.commands
    assert zadd[:2] == ("ZADD", "sa:{c-1}:log")
    assert len(zadd) == 2 + 2 * 3
    assert trim == ("ZREMRANGEBYRANK", "sa:{c-1}:log", 0, -31), "keeps the newest 30"
    assert expire == ("EXPIRE", "sa:{c-1}:log", 30 * 86400)


# --- the support scope ---------------------------------------------------------------


def test_support_is_a_scope_of_its_own_and_its_lookups_are_counted() -> None:
    assert parse_scopes(["support"]) == {Scope.SUPPORT}

    def key(*scopes: Scope) -> ApiKey:
        return ApiKey("k", "n", frozenset(scopes), 600, T0)

    assert counts_lookups(key(Scope.SUPPORT))
    assert counts_lookups(key(Scope.SUPPORT, Scope.DECISIONS_READ))
    assert not counts_lookups(key(Scope.SUPPORT, Scope.ADMIN))
    assert not counts_lookups(key(Scope.PROFILES_READ, Scope.DECISIONS_READ))


# --- the page ------------------------------------------------------------------------


def test_page_has_no_inline_code_and_no_remote_assets() -> None:
    html = (API / "customer.html").read_text("utf-8")
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), "no inline event handlers"
    assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE), "no inline styles"
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), "no inline scripts"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "dashboard/static/dashboard.css" in assets, "the dashboard's theme, reused"
    for asset in assets:
        assert not re.match(r"(https?:)?//", asset), f"{asset}: the page must work offline"
        if asset.startswith("dashboard/static/"):
            assert (API / "static" / asset.removeprefix("dashboard/static/")).is_file(), asset
    script = (API / "static" / "customer.js").read_text("utf-8")
    for banned in ("innerHTML", "eval(", "console.", "http://", "https://", "location.href"):
        assert banned not in script, banned


@pytest.mark.parametrize("path", ["/customer", "/dashboard/static/customer.js"])
async def test_page_is_served_without_a_key_and_the_view_needs_one(path: str) -> None:
    app = create_app(Settings(secrets={"allow_dev_secret": True}))  # never reaches Redis here
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as h:
        page = await h.get(path)
        assert page.status_code == 200
        if path == "/customer":
            assert "unsafe-inline" not in page.headers["content-security-policy"]
            assert page.headers["referrer-policy"] == "no-referrer"
        assert (await h.get("/v1/customers/c-1/view")).status_code == 401
