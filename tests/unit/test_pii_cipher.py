"""Buyer PII sealed with AES-GCM: opens with its own key and row only; keys rotate."""

from __future__ import annotations

import base64
import os

import pytest

from payment_svc.adapters.pii_cipher import PiiCipher, PiiUnreadable, SealedPii
from payment_svc.entrypoints.mapping import mask_email

pytestmark = pytest.mark.unit

K1, K2 = os.urandom(32), os.urandom(32)
EMAIL, NAME = "ada@example.com", "Ada Lovelace"


def test_a_sealed_value_opens_and_holds_nothing_readable() -> None:
    cipher = PiiCipher({"k1": K1}, "k1")

    sealed = cipher.seal("co_1", EMAIL, NAME)

    assert sealed.key_id == "k1"
    assert EMAIL not in sealed.buyer_email and "ada" not in sealed.buyer_email
    assert base64.b64decode(sealed.buyer_name)  # stored as base64 text
    assert cipher.open("co_1", sealed) == (EMAIL, NAME)


def test_the_same_value_seals_differently_each_time() -> None:
    cipher = PiiCipher({"k1": K1}, "k1")

    assert cipher.seal("co_1", EMAIL, NAME) != cipher.seal("co_1", EMAIL, NAME)


def test_a_value_moved_to_another_buyers_row_does_not_open() -> None:
    cipher = PiiCipher({"k1": K1}, "k1")
    sealed = cipher.seal("co_victim", EMAIL, NAME)

    with pytest.raises(PiiUnreadable, match="co_attacker"):
        cipher.open("co_attacker", sealed)


def test_a_value_moved_to_another_column_does_not_open() -> None:
    cipher = PiiCipher({"k1": K1}, "k1")
    sealed = cipher.seal("co_1", EMAIL, NAME)
    swapped = SealedPii(sealed.key_id, sealed.buyer_name, sealed.buyer_email)

    with pytest.raises(PiiUnreadable):
        cipher.open("co_1", swapped)


def test_an_altered_value_does_not_open() -> None:
    cipher = PiiCipher({"k1": K1}, "k1")
    sealed = cipher.seal("co_1", EMAIL, NAME)
    raw = bytearray(base64.b64decode(sealed.buyer_email))
    raw[-1] ^= 1
    altered = SealedPii("k1", base64.b64encode(bytes(raw)).decode(), sealed.buyer_name)

    with pytest.raises(PiiUnreadable):
        cipher.open("co_1", altered)


def test_after_a_rotation_old_values_still_open_and_new_ones_use_the_new_key() -> None:
    before = PiiCipher({"k1": K1}, "k1").seal("co_1", EMAIL, NAME)
    rotated = PiiCipher({"k1": K1, "k2": K2}, "k2")

    assert rotated.open("co_1", before) == (EMAIL, NAME)
    assert rotated.seal("co_2", EMAIL, NAME).key_id == "k2"


def test_a_value_under_a_key_no_longer_configured_says_which() -> None:
    before = PiiCipher({"k1": K1}, "k1").seal("co_1", EMAIL, NAME)

    with pytest.raises(PiiUnreadable, match="key k1 is not in PII_KEYS") as err:
        PiiCipher({"k2": K2}, "k2").open("co_1", before)
    assert EMAIL not in str(err.value)


@pytest.mark.parametrize(
    ("email", "masked"),
    [("ada@example.com", "a***@example.com"), ("", ""), ("no-at-sign", "***")],
)
def test_an_email_is_shown_masked(email: str, masked: str) -> None:
    assert mask_email(email) == masked
