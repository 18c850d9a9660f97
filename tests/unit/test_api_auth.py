"""API key tokens, hashes and scopes: the pure parts of the API's authentication."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from stream_app.api.scopes import Scope, grants, parse_scopes
from stream_app.api.tokens import (
    Credentials,
    InsecurePepperError,
    check_pepper,
    format_token,
    hash_secret,
    new_credentials,
    parse_token,
    verify_secret,
)
from stream_app.settings import DEV_API_KEY_PEPPER, Settings

PEPPER = b"pepper"
DEV = SecretStr(DEV_API_KEY_PEPPER)


@pytest.mark.parametrize("required", list(Scope))
def test_admin_implies_every_scope_and_others_only_themselves(required: Scope) -> None:
    assert grants({Scope.ADMIN}, required)
    assert grants({required}, required)
    others = set(Scope) - {required, Scope.ADMIN}
    assert not grants(others, required)
    assert not grants(set(), required)


def test_scopes_parse_strictly() -> None:
    assert parse_scopes(["admin", "admin"]) == {Scope.ADMIN}
    with pytest.raises(ValueError, match="unknown scope 'profiles:write'"):
        parse_scopes(["profiles:read", "profiles:write"])


def test_new_tokens_round_trip_and_differ() -> None:
    first, second = new_credentials(), new_credentials()
    assert first != second
    token = format_token(first)
    assert token.startswith(f"sak_{first.key_id}_")
    assert parse_token(token) == first
    assert parse_token(f"  {token}\n") == first
    assert first.secret not in repr(first)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "sak_",
        "Bearer sak_0123456789abcdef_" + "a" * 43,
        "sak_0123456789ABCDEF_" + "a" * 43,  # key ids are lower-case hex
        "sak_0123456789abcde_" + "a" * 43,  # 15 digits
        "sak_0123456789abcdef_" + "a" * 31,  # secret too short
        "sak_0123456789abcdef_" + "a" * 129,
        "sak_0123456789abcdef_" + "a" * 42 + "=",
        "xak_0123456789abcdef_" + "a" * 43,
        "sak_0123456789abcdef_" + "a" * 42 + "\x00",
    ],
)
def test_malformed_tokens_are_rejected_without_raising(token: str) -> None:
    assert parse_token(token) is None


def test_secret_underscores_belong_to_the_secret() -> None:
    parsed = parse_token("sak_0123456789abcdef_" + "_a-" * 15)
    assert parsed == Credentials("0123456789abcdef", "_a-" * 15)


def test_hash_is_keyed_by_the_pepper_and_verified_in_constant_time() -> None:
    stored = hash_secret("secret", PEPPER)
    assert len(stored) == 64
    assert "secret" not in stored
    assert stored != hash_secret("secret", b"other pepper")
    assert verify_secret("secret", stored, PEPPER)
    assert not verify_secret("secret", stored, b"other pepper")
    assert not verify_secret("Secret", stored, PEPPER)
    assert not verify_secret("secret", "", PEPPER)


def test_the_development_pepper_needs_allow_dev_secret() -> None:
    with pytest.raises(InsecurePepperError, match="STREAM_APP_SECRETS__API_KEY_PEPPER"):
        check_pepper(Settings(secrets={"allow_dev_secret": False, "api_key_pepper": DEV}))
    check_pepper(Settings(secrets={"allow_dev_secret": True, "api_key_pepper": DEV}))
    check_pepper(
        Settings(secrets={"allow_dev_secret": False, "api_key_pepper": SecretStr("x" * 32)})
    )
