"""The local Redis Cluster's slot split and shape: every slot owned once, evenly."""

from __future__ import annotations

import pytest

from stream_app.devstack.redis_cluster import CLUSTER_SLOTS, ClusterShape, slot_ranges


@pytest.mark.parametrize("masters", [1, 2, 3, 5, 7])
def test_slot_ranges_cover_every_slot_once_and_evenly(masters: int) -> None:
    ranges = slot_ranges(masters)
    slots = [slot for r in ranges for slot in r]
    assert slots == list(range(CLUSTER_SLOTS))
    assert max(map(len, ranges)) - min(map(len, ranges)) <= 1


@pytest.mark.parametrize(
    "shape",
    [
        {"masters": 0},
        {"replicas_per_master": -1},
        {"node_timeout_ms": 0},
    ],
)
def test_a_cluster_shape_refuses_nonsense(shape: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="not a cluster shape"):
        ClusterShape(**shape)
