"""``bench/results/latest.json``: each bench replaces its own figures, keeps the others'."""

from __future__ import annotations

import json
from pathlib import Path

from bench.common import merge_results


def test_a_bench_replaces_its_figures_and_keeps_other_benches(tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    merge_results({"learning.auc": 0.6, "learning.trough": 0.5, "profiles.ratio": 0.6}, path)
    merge_results({"learning.auc": 0.7}, path)
    figures = json.loads(path.read_text())
    assert figures["learning.auc"] == 0.7
    assert "learning.trough" not in figures
    assert figures["profiles.ratio"] == 0.6
    assert "machine" in figures
