"""What a cluster's stitching round tells the pass (storage/stitch.py): which visitors a
customer folds now, which it only cleans up after, which another customer holds, and the
parked readings whose ids the customer's read must look up."""

from __future__ import annotations

from stream_app.profiles.state import ProfileState
from stream_app.storage.customers import Ask, Loaded
from stream_app.storage.stitch import Carried, Claim, Stitched


def test_a_claimed_visitor_is_folded_once_and_a_marked_one_only_cleaned_up() -> None:
    stitched = Stitched(
        claims={
            "c-1": {
                "~anon:new": Claim("c-1", True, None, [("h1", 5)], ["o1"], frozenset({"h1"})),
                "~anon:done": Claim("c-1", False, b"{}", [("h2", 6)]),
                "~anon:gone": Claim("c-1"),  # marked, nothing left: nothing to do
                "~anon:other": Claim("c-2"),
            }
        }
    )
    found = Loaded(ProfileState("c-1"), marked={"~anon:done", "~anon:gone"})
    stitched.into({"c-1": found})
    assert [m.customer_id for m in found.merged] == ["~anon:new"]
    assert found.applied == {"h1"}, "the batch's ids the visitor holds are duplicates"
    assert found.carried == {
        "~anon:new": Carried([("h1", 5)], ["o1"]),
        "~anon:done": Carried(done=True),
    }
    assert found.fresh == ["~anon:new"]
    assert found.refused == ["~anon:other"]


def test_parked_readings_are_looked_up_with_the_customers_ids() -> None:
    stitched = Stitched(waiting={"c-1": [("device:t", "h9", b"{}")]})
    [ask] = stitched.asks([Ask("c-1", ["h1"], device_links=["device:t"])])
    assert (list(ask.event_keys), list(ask.device_links)) == (["h1", "h9"], [])
    found = Loaded(ProfileState("c-1"))
    stitched.into({"c-1": found})
    assert found.waiting == [("device:t", "h9", b"{}")]
