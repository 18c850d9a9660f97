"""docs/redis-keys.md and ``storage.layout`` say the same: every documented key kind
has a builder, every builder is documented, and the members documented are built."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from stream_app.storage import lift_fields
from stream_app.storage.layout import Check, Keys, check_member, contact_member

SPEC = Path(__file__).parents[2] / "docs" / "redis-keys.md"
#: How the page writes each builder argument.
PLACEHOLDERS = {
    "customer_id": "<customer>",
    "decision_id": "<decision id>",
    "device_token": "<device token>",
    "anonymous_id": "~anon:<hex>",
    "item_id": "<item>",
    "category": "<category>",
    "order_key": "<order key>",
    "run": "<run>",
    "campaign_id": "<campaign>",
    "name": "<name>",
    "key_id": "<key id>",
    "period": "<period>",
}
#: Builders of ``SCAN`` patterns, and the schedule shard of a customer: not keys.
PATTERNS = {"of_customer", "of_deployment", "shard", "basket_runs"}


def documented() -> dict[str, str]:
    """The key table's rows: key -> what the row says it holds (``\\|`` unescaped)."""
    rows = re.findall(r"^\| `(<p>[^`]*)`[^|]*\|(.*)$", SPEC.read_text(), flags=re.MULTILINE)
    return {key: text.replace("\\|", "|") for key, text in rows}


def built() -> dict[str, str]:
    """Each key builder's key, with the page's placeholders for its arguments."""
    keys = Keys("<p>")
    out = {}
    for name, method in inspect.getmembers(keys, inspect.ismethod):
        if name.startswith("_") or name in PATTERNS:
            continue
        params = inspect.signature(method).parameters.values()
        # Optional arguments (a schedule shard, a basket run's tag) keep their defaults.
        out[name] = method(*(PLACEHOLDERS[p.name] for p in params if p.default is p.empty))
    return out


def test_every_documented_key_has_a_builder_and_every_builder_is_documented() -> None:
    keys = built()
    rate_limits = keys.pop("rate_limits")  # a prefix: the ``limits`` library adds the rest
    spec = set(documented())
    limited = {k for k in spec if k.startswith(f"{rate_limits}:")}
    assert len(limited) == 1, "the rate-limit counters are documented under their prefix"
    assert spec - limited == set(keys.values())


def test_documented_members_are_the_builders() -> None:
    spec = documented()
    keys = Keys("<p>")
    due = spec[keys.due()]
    for check in (
        Check("cart", "<customer>"),
        Check("seg", "<customer>"),
        Check("send", "<customer>", "<decision id>"),
        Check("label", "<customer>", "<decision id>"),
        Check("park", "<device token>"),
    ):
        assert f"`{check_member(check)}`" in due
    contacts = contact_member("<decision>", "<campaign>", "<channel>")
    assert f"`{contacts}`" in spec[keys.contacts("<customer>")]
    cells = spec[keys.lift_cells("<campaign>")]
    for measure in ("n", "c"):
        assert f"`{lift_fields.lift_cell(measure, '<arm>', '<stratum>')}`" in cells
    assert f"`{lift_fields.LIFT_BUILT}`" in cells
