"""The customer view on the real stack: the worker logs why one customer got a message
and why another did not, the API shows both to a support key (whose lookups are
limited), the log is idempotent and goes with the customer's erasure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from stream_app.api import create_app
from stream_app.api.scopes import Scope
from stream_app.decisions.timeline import Entry
from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.erasure import ErasureStore
from stream_app.storage.layout import Keys
from tests.integration.api_support import client, new_key
from tests.integration.fixtures import commit, eventually
from tests.integration.test_decisions import consent, drop_price, uid, viewed

pytestmark = pytest.mark.integration


def kinds(entries: list[Entry]) -> set[str]:
    return {e.kind for e in entries}


async def test_the_view_says_why_one_customer_got_a_message_and_another_did_not(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    got, missed, item = uid("cv"), uid("cvx"), uid("sku")
    await asyncio.gather(  # each returns once applied; `missed` never opted in to push
        consent(settings, redis, keys, got),
        viewed(settings, redis, keys, got, item),
        viewed(settings, redis, keys, missed, item),
    )
    await drop_price(settings, item, 79.0)
    log = build_stores(redis, settings).decision_log
    assert "sent" in kinds(await eventually(lambda: log.read(got), kinds, within=30))
    [why_not] = await eventually(lambda: log.read(missed), bool, within=30)
    assert (why_not.kind, why_not.campaign_id, why_not.why) == (
        "suppressed",
        "price_drop",
        "no_consent",
    )

    app = create_app(settings, redis=redis)
    now = datetime.now(UTC)
    token = await new_key(redis, settings, Scope.SUPPORT, now=now)
    async with client(app, token) as http:
        shown = (await http.get(f"/v1/customers/{got}/view")).json()
        not_shown = (await http.get(f"/v1/customers/{missed}/view")).json()
        unknown = await http.get(f"/v1/customers/{uid('nobody')}/view")
    assert unknown.status_code == 404
    [sent] = [e for e in shown["timeline"] if e["kind"] == "sent"]
    assert sent["campaign_id"] == "price_drop"
    assert "21% cheaper" in sent["why"], "the decision's explanation"
    assert sent["channel"] == "push"
    assert shown["profile"]["traits"]["consent"] == {"push": True}
    assert len(shown["rhythm"]) == 168
    assert sum(shown["rhythm"]) > 0, "the views mark the rhythm"
    [suppressed] = not_shown["timeline"]
    assert suppressed["why"] == "no_consent"
    assert suppressed["detail"], "what the policy saw"

    # The same entries written again (a retried pass) add nothing.
    before = await redis.zcard(keys.decision_log(missed))
    await commit(redis, lambda w: log.append(w, missed, [why_not]))
    assert await redis.zcard(keys.decision_log(missed)) == before

    await ErasureStore(redis, keys).erase(missed, now)
    assert not await redis.exists(keys.decision_log(missed)), "erased with the customer"


async def test_support_lookups_have_a_limit_of_their_own(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    customer = uid("cvl")
    await viewed(settings, redis, keys, customer, uid("sku"))
    tight = settings.model_copy(
        update={"api": settings.api.model_copy(update={"support_lookups_per_minute": 2})}
    )
    app = create_app(tight, redis=redis)
    now = datetime.now(UTC)
    support = await new_key(redis, settings, Scope.SUPPORT, now=now)
    admin = await new_key(redis, settings, Scope.ADMIN, now=now)
    async with client(app, support) as http:
        statuses = [
            (await http.get(f"/v1/customers/{customer}/{what}")).status_code
            for what in ("view", "decisions", "view")
        ]
        refused = await http.get(f"/v1/customers/{customer}/view")
    assert statuses == [200, 200, 429]
    assert int(refused.headers["Retry-After"]) >= 1
    async with client(app, admin) as http:
        for _ in range(3):
            assert (await http.get(f"/v1/customers/{customer}/view")).status_code == 200
    assert timedelta(seconds=int(refused.headers["Retry-After"])) <= timedelta(minutes=1)
