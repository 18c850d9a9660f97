"""Anonymous visitors' profile ids (docs/identity.md).

An anonymous id (cookie, device, app install) is pseudonymized like a device id, and
its profile is kept under ``~`` + the token: a customer id never starts with ``~``
(the contract's pattern), so the two cannot collide, and every per-customer key
serves anonymous profiles unchanged.
"""

from __future__ import annotations

from stream_app.profiles.pseudonym import pseudonymize

ANONYMOUS_MARK = "~"


def anonymous_profile_id(secret: bytes, anonymous_id: str) -> str:
    """The profile id of an anonymous visitor: ``~anon:<32 hex>``.

    >>> pid = anonymous_profile_id(b"k", "cookie-1")
    >>> pid[:6], is_anonymous(pid), is_anonymous("cust-1")
    ('~anon:', True, False)
    """
    return ANONYMOUS_MARK + pseudonymize(secret, "anon", anonymous_id)


def is_anonymous(profile_id: str) -> bool:
    """Whether a profile id is an anonymous visitor's (never evaluated, never messaged)."""
    return profile_id.startswith(ANONYMOUS_MARK)
