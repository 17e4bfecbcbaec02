import pytest

from mesh.cards import REDACTED, contains_card_number, luhn_valid, redact_card_numbers

pytestmark = pytest.mark.unit

CARDS = ["4242424242424242", "4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"]


@pytest.mark.parametrize("card", CARDS)
def test_finds_card_numbers_however_grouped(card):
    assert contains_card_number(f"name: {card}!")


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # fails Luhn
        "123456789012",  # 12 digits: too short
        "42424242424242424242",  # 20 digits: too long
        "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "amount 10.00 USD",
        "pm_card_visa",
    ],
)
def test_leaves_other_numbers_alone(text):
    assert not contains_card_number(text)


def test_redacts_every_card_number_and_keeps_the_rest():
    text = 'card "4242424242424242" and 4111-1111-1111-1111 for order 42'
    out = redact_card_numbers(text)
    assert "4242424242424242" not in out and "4111-1111-1111-1111" not in out
    assert out.count(REDACTED) == 2
    assert out.endswith("for order 42")


def test_luhn():
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


@pytest.mark.parametrize(
    "ident",
    [
        "1d298660-1e9b-4847-8613-45187139180e",  # a UUID whose groups hold a Luhn-valid run
        "order_4242424242424242",
        "pm-4242424242424242",
    ],
)
def test_digits_inside_an_identifier_are_not_a_card_number(ident):
    assert not contains_card_number(ident)
