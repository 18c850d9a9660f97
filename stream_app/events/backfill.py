"""Marking records as history: a Kafka record header that says "backfill".

Loading a shop's history must never message a customer, so the mark travels with
each record (every event of an envelope shares it), set by ``stream-app backfill``
(and ``replay --backfill``) or by any producer that backfills itself. A header, not an envelope
field: the event contracts stay as they are, and the worker's transport hands it
the raw records, headers included.

>>> is_backfill([(MODE_HEADER, BACKFILL)])
True
>>> is_backfill([(MODE_HEADER, b"live")]), is_backfill(None), is_backfill([])
(False, False, False)
"""

from __future__ import annotations

from collections.abc import Iterable

#: The header's name and the value that marks a record as history.
MODE_HEADER = "stream-app-mode"
BACKFILL = b"backfill"
#: The headers a backfilling producer sets on every record.
BACKFILL_HEADERS: tuple[tuple[str, bytes], ...] = ((MODE_HEADER, BACKFILL),)


def is_backfill(headers: Iterable[tuple[str, bytes]] | None) -> bool:
    """Whether a record's headers mark it as history (a record without headers is live)."""
    return any(name == MODE_HEADER and value == BACKFILL for name, value in headers or ())
