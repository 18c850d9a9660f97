"""API key tokens: format, parsing and the hash kept in Redis. Pure.

A token reads ``sak_<key id>_<secret>``. The key id names the stored record
(safe to log); the secret (``secrets.token_urlsafe(32)``, 256 bits) is shown once
and only its HMAC-SHA256 under a server-side pepper is stored, so a copy of Redis
alone does not let anyone use or brute-force keys. Hashes are compared with
``hmac.compare_digest`` (constant time). A plain HMAC rather than a slow password
hash (argon2, bcrypt) is enough: the secret is random, not chosen by a person,
and every request verifies it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from stream_app.settings import DEV_API_KEY_PEPPER, Settings

PREFIX = "sak"
#: ``sak_`` + 16 hex digits + ``_`` + the URL-safe secret (43 characters when new).
_TOKEN = re.compile(rf"{PREFIX}_(?P<key_id>[0-9a-f]{{16}})_(?P<secret>[A-Za-z0-9_-]{{32,128}})")


class InsecurePepperError(ValueError):
    """The built-in development pepper in a deployment that did not allow it."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A parsed token; the secret stays out of ``repr`` (and so out of logs)."""

    key_id: str
    secret: str = field(repr=False)


def new_credentials() -> Credentials:
    """A fresh key id and secret."""
    return Credentials(secrets.token_hex(8), secrets.token_urlsafe(32))


def format_token(credentials: Credentials) -> str:
    """The token a client sends.

    >>> format_token(Credentials("0123456789abcdef", "s" * 43))[:22]
    'sak_0123456789abcdef_s'
    """
    return f"{PREFIX}_{credentials.key_id}_{credentials.secret}"


def parse_token(token: str) -> Credentials | None:
    """Credentials of a well-formed token, else None (never raises on client input).

    >>> parse_token("sak_0123456789abcdef_" + "x_y-" * 11)
    Credentials(key_id='0123456789abcdef')
    >>> parse_token("sak_0123456789abcdef_short") is None, parse_token("Bearer x") is None
    (True, True)
    """
    match = _TOKEN.fullmatch(token.strip())
    return None if match is None else Credentials(match["key_id"], match["secret"])


def hash_secret(secret: str, pepper: bytes) -> str:
    """Hex HMAC-SHA256 of ``secret`` keyed with the server's pepper (what Redis keeps)."""
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def verify_secret(secret: str, stored_hash: str, pepper: bytes) -> bool:
    """Whether ``secret`` matches ``stored_hash``, in constant time."""
    return hmac.compare_digest(hash_secret(secret, pepper), stored_hash)


def check_pepper(settings: Settings) -> None:
    """Refuse the development pepper unless ``allow_dev_secret`` says this is a dev setup."""
    if (
        settings.secrets.api_key_pepper.get_secret_value() == DEV_API_KEY_PEPPER
        and not settings.secrets.allow_dev_secret
    ):
        raise InsecurePepperError(
            "set STREAM_APP_SECRETS__API_KEY_PEPPER "
            "(or STREAM_APP_SECRETS__ALLOW_DEV_SECRET=true for local use)"
        )
