"""The messy-retail set: deterministic, valid to the worker's own decoder, within the
worker's limits, and its truth agrees with a plain recount of the events it emits."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from bench.commerce import Spend, score
from stream_app.cli.main import app
from stream_app.events.decode import Decoder
from stream_app.events.encode import encode
from stream_app.events.identity import Traits
from stream_app.events.purchase import LineItem, Purchase
from stream_app.events.registry import Event
from stream_app.events.sensor import Location
from stream_app.settings import WorkerSettings
from stream_app.simulation.money import from_minor, to_minor
from stream_app.simulation.oddities import ODD_ITEM_IDS
from stream_app.simulation.retail import RetailMix, RetailSet, make_retail_set

END = datetime(2026, 6, 8, 12, tzinfo=UTC)
SPAN = timedelta(days=6)
SMALL = RetailMix(b2b_customers=2, b2b_orders=2, b2b_lines=(300, 2_000))
LIMITS = WorkerSettings().decode_limits()


def build(mix: RetailMix = SMALL, seed: int = 3) -> RetailSet:
    return make_retail_set(30, 2_500, seed, END, SPAN, mix, id_prefix="t-")


@pytest.fixture(scope="module")
def retail() -> RetailSet:
    return build()


def _wire(rset: RetailSet) -> list[bytes]:
    return [encode(a.event) for a in rset.arrivals]


def test_the_same_seed_gives_the_same_events_and_truth(retail: RetailSet) -> None:
    again = build()
    assert _wire(again) == _wire(retail)
    assert again.truth.as_json() == retail.truth.as_json()
    assert _wire(build(seed=4)) != _wire(retail)


def test_every_event_passes_the_workers_decoder_and_limits(retail: RetailSet) -> None:
    decoder = Decoder(LIMITS, END + timedelta(minutes=1))
    for arrival in retail.arrivals:
        raw = encode(arrival.event)
        assert len(raw) <= LIMITS.max_record_bytes
        assert not decoder.decode(arrival.stream, raw).rejections, arrival.event.event_id


def test_b2b_invoices_are_big_bulky_and_in_several_currencies(retail: RetailSet) -> None:
    invoices = [
        a.event
        for a in retail.arrivals
        if isinstance(a.event, Purchase) and a.event.order_id.startswith("inv-")
    ]
    assert len({i.order_id for i in invoices}) == 4
    assert all(300 <= len(i.items) <= LIMITS.max_order_lines for i in invoices)
    quantities = [line.quantity for i in invoices for line in i.items]
    assert max(quantities) <= LIMITS.max_line_quantity
    assert max(quantities) >= LIMITS.max_line_quantity // 2
    for invoice in invoices:  # the total is the exact sum of the lines
        cur = invoice.currency
        lines = sum(line.quantity * to_minor(line.unit_price, cur) for line in invoice.items)
        assert to_minor(invoice.total, cur) == lines


def test_odd_item_ids_are_valid_and_as_odd_as_real_exports() -> None:
    for item in ODD_ITEM_IDS:
        LineItem(item_id=item, category="misc", quantity=1, unit_price=1.0)
    assert "BANK CHARGES" in ODD_ITEM_IDS
    assert max(len(item) for item in ODD_ITEM_IDS) == 128
    assert any(item != item.strip() for item in ODD_ITEM_IDS)


def test_week_old_events_come_again_as_exact_copies_at_the_end(retail: RetailSet) -> None:
    tail = [
        a
        for a in retail.arrivals
        if a.at == retail.end and a.event.event_time < retail.start + timedelta(days=1)
    ]
    assert len(tail) == retail.counts["redeliveries"] > 0
    first = {encode(a.event) for a in retail.arrivals if a.at < retail.end}
    assert all(encode(a.event) in first for a in tail)


def recount(rset: RetailSet) -> dict[str, dict[str, int]]:
    """Net spend per customer and currency from the events alone: each order and each
    reversal once (by its id), a guest's to the customer an event with both ids links
    them to, a guest's who never logs in to nobody."""
    linked = {
        e.anonymous_id: e.customer_id
        for e in (a.event for a in rset.arrivals)
        if getattr(e, "anonymous_id", None) and e.customer_id
    }
    once: dict[str, Event] = {}
    for arrival in rset.arrivals:
        event = arrival.event
        if isinstance(event, Purchase) or hasattr(event, "return_id"):
            once.setdefault(getattr(event, "return_id", None) or event.order_id, event)
    net: dict[str, Counter[str]] = {}
    for event in once.values():
        owner = event.customer_id or linked.get(getattr(event, "anonymous_id", None))
        amount = event.total if isinstance(event, Purchase) else -event.amount
        if owner is not None:
            net.setdefault(owner, Counter())[event.currency] += to_minor(amount, event.currency)
    nonzero = {cid: {c: n for c, n in counts.items() if n} for cid, counts in net.items()}
    return {cid: amounts for cid, amounts in nonzero.items() if amounts}


def _nonzero_net(rset: RetailSet) -> dict[str, dict[str, int]]:
    """The truth's net spend, customers and currencies at 0 left out."""
    truth = rset.truth
    nets = {cid: {c: n for c, n in truth.net(cid).items() if n} for cid in truth.customers()}
    return {cid: net for cid, net in nets.items() if net}


def test_the_truth_equals_a_recount_of_the_events_sent(retail: RetailSet) -> None:
    truth = _nonzero_net(retail)
    assert recount(retail) == truth
    assert len({c for net in truth.values() for c in net}) >= 4


def test_money_round_trips_through_the_wire_exactly() -> None:
    for currency, minor in (("EUR", 123456789), ("JPY", 98765), ("KWD", 1005), ("USD", 1)):
        assert to_minor(from_minor(minor, currency), currency) == minor


def test_returns_are_booked_days_later_or_sent_ahead_of_their_order() -> None:
    rset = build(
        RetailMix(guests=False, devices=False, b2b_customers=1, b2b_orders=1, b2b_lines=(200, 300))
    )
    assert rset.truth.returned
    assert recount(rset) == _nonzero_net(rset)
    assert sum(n for k, n in rset.counts.items() if k.startswith("reversals:")) > 0
    for cid in rset.truth.customers():
        assert all(n >= 0 for n in rset.truth.net(cid).values()), cid


def test_guests_buy_anonymously_and_their_revenue_belongs_to_a_customer() -> None:
    rset = build(
        RetailMix(returns=False, devices=False, b2b_customers=1, b2b_orders=1, b2b_lines=(200, 300))
    )
    assert rset.truth.guest
    assert recount(rset) == _nonzero_net(rset)
    assert rset.truth.unclaimed
    for cid, guest in rset.truth.guest.items():
        assert all(guest[c] <= rset.truth.gross[cid][c] for c in guest)


def test_new_phones_read_seconds_before_the_traits_that_link_them() -> None:
    rset = build(RetailMix(returns=False, guests=False, b2b_customers=0))
    readings = {
        a.event.device_id: a.event
        for a in rset.arrivals
        if isinstance(a.event, Location) and "dev-new-" in a.event.device_id
    }
    links = {
        d: a.event for a in rset.arrivals if isinstance(a.event, Traits) for d in a.event.device_ids
    }
    assert len(readings) == rset.counts["unlinked_devices"] > 0
    for device, reading in readings.items():
        assert reading.customer_id is None
        gap = links[device].event_time - reading.event_time
        assert timedelta(0) <= gap <= timedelta(seconds=8)


def test_the_score_counts_exact_customers_and_guest_revenue() -> None:
    retail = build(replace(SMALL, returns=False, guests=False))  # its truth is changed below
    truth = retail.truth
    money = {cid: {cur: Spend(n) for cur, n in truth.net(cid).items()} for cid in retail.customers}
    perfect = score(retail, money, {})
    assert (perfect.net_spend_exact, perfect.guest_revenue_attributed) == (1.0, None)
    off = truth.customers()[0]
    cur = next(iter(truth.net(off)))
    money[off] = {**money[off], cur: Spend(truth.net(off)[cur] + 1)}
    one_off = score(retail, money, {"dead_letters": 2})
    assert one_off.net_spend_exact == 1 - 1 / len(retail.customers)
    assert [m.split(":")[0] for m in one_off.mismatches] == [off]
    assert one_off.valid_events_dead_lettered == 2
    truth.guest[off] = Counter({cur: 100})  # half of it reached them
    money[off] = {**money[off], cur: Spend(truth.gross[off][cur] - 50)}
    assert score(retail, money, {}).guest_revenue_attributed == pytest.approx(0.5)


def test_simulate_writes_the_retail_set_and_its_truth(tmp_path: Path) -> None:
    log = tmp_path / "retail.jsonl"
    args = ["simulate", "--set", "retail", "--to-file", str(log), "--customers", "10"]
    done = CliRunner().invoke(app, [*args, "--events", "300", "--seed", "5"])
    assert done.exit_code == 0, done.output
    truth = orjson.loads(log.with_name("retail.jsonl.truth.json").read_bytes())
    assert truth["net_minor"]
    assert len(log.read_bytes().splitlines()) > 300  # + invoices and redeliveries
    assert '"type":"return"' in log.read_text()
    plainer = [*args, "--events", "300", "--seed", "5", "--without", "returns"]
    assert CliRunner().invoke(app, plainer).exit_code == 0
    text = log.read_text()
    assert '"type":"return"' not in text
    assert '"anonymous_id"' in text
