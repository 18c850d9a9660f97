"""Keyed pseudonymization of contact handles: raw emails, phones, device and anonymous ids
never stored.

HMAC-SHA256 with a secret from settings: the same handle always maps to the same
token (so identities can be joined), but the token cannot be reversed or
recomputed without the secret. Rotating the secret changes every token (see
README, "Privacy").
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal

HandleKind = Literal["email", "phone", "device", "anon"]

_NON_DIGITS = re.compile(r"[^0-9+]")


def normalize(kind: HandleKind, value: str) -> str:
    """Canonical form, so trivially different spellings get one token.

    >>> normalize("email", "  Ann@Example.COM ")
    'ann@example.com'
    >>> normalize("phone", "+49 (30) 123-45")
    '+493012345'
    """
    value = value.strip()
    if kind == "email":
        return value.lower()
    if kind == "phone":
        return _NON_DIGITS.sub("", value)
    return value


def pseudonymize(secret: bytes, kind: HandleKind, value: str) -> str:
    """Token for a handle: ``<kind>:<32 hex chars>``.

    >>> token = pseudonymize(b"k", "email", "Ann@example.com")
    >>> token == pseudonymize(b"k", "email", "ann@example.com"), token[:6]
    (True, 'email:')
    >>> pseudonymize(b"k", "email", "a@b.c") != pseudonymize(b"other", "email", "a@b.c")
    True
    """
    digest = hmac.new(secret, f"{kind}:{normalize(kind, value)}".encode(), hashlib.sha256)
    return f"{kind}:{digest.hexdigest()[:32]}"
