"""Password policy and hashing: bcrypt's 72-byte limit, NUL, non-ASCII, common passwords, the dummy hash."""

from __future__ import annotations

import bcrypt
import pytest

from books_api import passwords
from books_api.errors import BadRequest
from tests.utils import PASSWORD
from tools import common_passwords

COST = 4


def test_passwords_past_72_bytes_are_not_truncated() -> None:
    base = "x7#" * 30  # 90 bytes
    hashed = passwords.hash_password(base, cost=COST)
    assert passwords.verify_password(base, hashed, cost=COST)
    assert not passwords.verify_password(base[:72], hashed, cost=COST)
    assert not passwords.verify_password(base[:-1] + "y", hashed, cost=COST)


def test_the_longest_allowed_password_of_four_byte_characters_hashes() -> None:
    password = "🔑" * passwords.MAX_LENGTH  # 512 bytes of UTF-8
    passwords.check_policy(password, username="alice")
    assert passwords.verify_password(password, passwords.hash_password(password, cost=COST), cost=COST)


def test_nfkc_equivalent_passwords_are_one_password() -> None:
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in "fullwidth") + "-pass-42"
    hashed = passwords.hash_password(fullwidth, cost=COST)
    assert passwords.verify_password("fullwidth-pass-42", hashed, cost=COST)


def test_non_ascii_passwords_are_distinct() -> None:
    hashed = passwords.hash_password("pässwörd-über-9", cost=COST)
    assert passwords.verify_password("pässwörd-über-9", hashed, cost=COST)
    assert not passwords.verify_password("passwort-uber-9", hashed, cost=COST)


def test_bcrypt_never_sees_a_nul_byte() -> None:
    seen: list[bytes] = []
    real = bcrypt.hashpw

    def spy(password: bytes, salt: bytes) -> bytes:
        seen.append(password)
        return real(password, salt)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(bcrypt, "hashpw", spy)
        passwords.hash_password("a\x00b-long-enough", cost=COST)
    assert b"\x00" not in seen[0]
    assert len(seen[0]) <= 72


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1!", "8 to"),
        ("x" * (passwords.MAX_LENGTH + 1), "8 to"),
        ("with\x00nul-byte", "NUL"),
        ("password123", "common"),
        ("Iloveyou1", "common"),
        ("alice-the-user", "username"),
    ],
)
def test_policy_names_the_rule_broken(password: str, rule: str) -> None:
    with pytest.raises(BadRequest) as raised:
        passwords.check_policy(password, username="alice-the-user")
    assert raised.value.errors[0]["field"] == "password"
    assert rule in raised.value.errors[0]["message"]


def test_at_least_64_characters_are_allowed() -> None:
    passwords.check_policy("a-long-and-unusual-passphrase-" * 2 + "end!", username="alice")


def test_the_bundled_list_is_zxcvbns_and_has_at_least_10000_entries() -> None:
    bundled = (passwords.resources.files("books_api") / "data/common-passwords.txt.gz").read_bytes()
    assert bundled == common_passwords.render()
    assert len(passwords.common_passwords()) >= 10_000


def test_wrong_or_corrupt_hashes_verify_false() -> None:
    assert not passwords.verify_password("anything-at-all", "not-a-bcrypt-hash", cost=COST)
    assert not passwords.verify_password(
        "anything-at-all", passwords.hash_password("other-password-1", cost=COST), cost=COST
    )


@pytest.mark.parametrize("cost", [4, 10, 12])
def test_the_dummy_hash_is_a_real_bcrypt_hash_at_the_cost(cost: int) -> None:
    dummy = passwords.dummy_hash(cost).encode()
    assert dummy.split(b"$")[2] == f"{cost:02d}".encode()
    assert len(dummy) == 60
    if cost == 4:
        # checkpw runs the full work (a malformed hash would raise instead, and answer early).
        assert bcrypt.checkpw(b"x", dummy) is False


@pytest.mark.parametrize("stored", [4, 5, 6])
def test_a_hash_of_a_lower_cost_is_padded_to_the_work_of_the_configured_one(
    bcrypt_costs: list[int], stored: int
) -> None:
    hashed = passwords.hash_password(PASSWORD, cost=stored)
    costs = bcrypt_costs
    assert passwords.verify_password(PASSWORD, hashed, cost=7)
    assert not passwords.verify_password("wrong-password-1", hashed, cost=7)
    # bcrypt's work is 2**cost: the checks of each call add up to one check at cost 7.
    assert costs[: len(costs) // 2] == costs[len(costs) // 2 :]
    assert sum(2**cost for cost in costs[: len(costs) // 2]) == 2**7


@pytest.mark.parametrize("password_hash", [None, "not-a-bcrypt-hash", "$2b$99$" + "x" * 53])
def test_no_usable_hash_costs_one_check_at_the_configured_cost(
    bcrypt_costs: list[int], password_hash: str | None
) -> None:
    assert not passwords.verify_password(PASSWORD, password_hash, cost=5)
    assert bcrypt_costs == [5]


@pytest.mark.parametrize(("stored", "configured", "expected"), [(4, 4, False), (4, 5, True), (6, 5, True)])
def test_a_hash_of_another_cost_needs_a_rehash(stored: int, configured: int, expected: bool) -> None:
    hashed = passwords.hash_password(PASSWORD, cost=stored)
    assert passwords.cost_of(hashed) == stored
    assert passwords.needs_rehash(hashed, cost=configured) is expected
