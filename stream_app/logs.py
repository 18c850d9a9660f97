"""Logging set-up for every process: text for people, JSON (python-json-logger) for
log pipelines, and customer ids never in clear.

JSON lines carry the message and any ``extra`` fields as keys, so an operator can
filter on ``event=rebalance`` or ``partitions``. A log line that must name a
customer names ``customer_ref(id)``: a short keyed hash, stable within a
deployment (to follow one customer through the logs), useless outside it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"


def logging_config(level: str, fmt: LogFormat, secret: bytes) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the root logger (Faust's worker takes it too).
    ``secret`` keys the customer references (``CustomerRefFilter``).

    >>> logging_config("warn", "json", b"k")["formatters"]["default"]["()"]
    'pythonjsonlogger.json.JsonFormatter'
    """
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if fmt == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {"customers": {"()": CustomerRefFilter, "secret": secret}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["customers"],
            },
        },
        "root": {"level": level.upper().replace("WARN", "WARNING"), "handlers": ["console"]},
    }


def customer_ref(customer_id: str, secret: bytes) -> str:
    """How logs name a customer: 12 hex digits of a keyed hash of the id.

    >>> customer_ref("cust-1", b"k") == customer_ref("cust-1", b"k") != customer_ref("cust-1", b"j")
    True
    """
    digest = hmac.new(secret, customer_id.encode(), hashlib.sha256).hexdigest()
    return f"cref-{digest[:12]}"


class CustomerRefFilter(logging.Filter):
    """Replaces a record's ``customer_id`` (given as ``extra``) by its ``customer_ref``, so
    code can say which customer and the line still names nobody.

    >>> record = logging.makeLogRecord({"msg": "erased", "customer_id": "cust-1"})
    >>> CustomerRefFilter(b"k").filter(record), record.customer_id.startswith("cref-")
    (True, True)
    """

    def __init__(self, secret: bytes) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        customer = getattr(record, "customer_id", None)
        if isinstance(customer, str) and not customer.startswith("cref-"):
            record.customer_id = customer_ref(customer, self._secret)
        return True
