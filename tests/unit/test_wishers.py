"""The wishers index follows the profiles' wishlists: what a pass writes of it
(``streaming.evaluate._wishes``) is read from the profile after the batch, so a replay
writes the same, and items a merge brought or the cap pushed out are written too."""

from __future__ import annotations

from stream_app.profiles.state import ProfileState
from stream_app.storage.customers import Loaded
from stream_app.streaming.evaluate import _wishes


def test_the_index_entries_come_from_the_profile_after_the_batch() -> None:
    state = ProfileState("c", wishlist={"a": [5, "x", 1], "b": [6, "", 0], "d": [2, "y", 1]})
    visitor = ProfileState("~a", wishlist={"d": [2, "y", 1]})
    found = Loaded(state, merged=[visitor])
    # "b" was removed by the batch, "e" pushed out by the cap, "d" came with the visitor,
    # "f" was wished before and untouched (not written again).
    before = ["a", "e", "f"]
    state.wishlist["f"] = [1, "z", 1]
    assert _wishes(found, before, {"a", "b"}) == {"a": 5, "b": None, "d": 2, "e": None}


def test_a_replayed_batch_writes_the_same() -> None:
    state = ProfileState("c", wishlist={"a": [5, "x", 1]})
    assert _wishes(Loaded(state), ["a"], {"a"}) == {"a": 5}
