"""Log lines: JSON when asked, and customers named only by their keyed reference."""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator

import pytest

from stream_app.logs import customer_ref, logging_config


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root")
def test_json_lines_carry_extras_and_never_a_raw_customer_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.config.dictConfig(logging_config("info", "json", b"secret"))
    logging.getLogger("stream_app.test").info(
        "customer erased", extra={"event": "erasure", "customer_id": "cust-000042"}
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["message"] == "customer erased"
    assert record["level"] == "INFO"
    assert record["logger"] == "stream_app.test"
    assert record["event"] == "erasure"
    assert record["customer_id"] == customer_ref("cust-000042", b"secret")
    assert "cust-000042" not in line


@pytest.mark.usefixtures("restore_root")
def test_the_faust_worker_keeps_the_level_asked_for() -> None:
    """Faust's spinner would set the root logger to DEBUG: every debug call of aiokafka
    would then build a record for nothing."""
    from stream_app.cli.worker import faust_worker, worker_logging
    from stream_app.settings import Settings
    from stream_app.streaming.app import faust_app

    settings = Settings(secrets={"allow_dev_secret": True}, log={"level": "warn"})
    worker = faust_worker(
        faust_app(settings, frozenset()), settings, logging_config=worker_logging(settings)
    )
    worker._setup_logging()
    assert not logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.DEBUG)
