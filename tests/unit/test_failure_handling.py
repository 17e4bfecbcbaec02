"""What decides between retrying and dead-lettering, and what a dead letter keeps: the retry
policy and its settings, the transient/poison split, the failure log and the dead-letter
headers (their round trip through what `paymesh dlq` reads)."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import nats.errors
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

import mesh.jetstream
from mesh import settings as mesh_settings
from mesh.dead_letters import (
    ATTEMPTS,
    CONSUMER,
    FAILURES,
    FIRST_ERROR,
    LAST_ERROR,
    NATS_MSG_ID,
    SUBJECT,
    DeadLetter,
    FailureLog,
    dead_letter_headers,
    header_text,
)
from mesh.jetstream import Poison, Retry
from mesh.retry import RetryPolicy
from mesh.settings import SettingsError, retention_settings, retry_policy
from mesh.transient import is_transient
from payment_svc.domain.psp import PspRejected, PspUnavailable
from payment_svc.service_layer.ports import StoreUnavailable
from wallet_svc.service_layer.refunds import CreditNotYetApplied


def test_backoff_doubles_up_to_the_cap_and_jitter_only_shortens_it() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=4.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = RetryPolicy(base_s=1.0, cap_s=8.0, jitter=0.5)
    delays = [jittered.delay(3) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100  # spread, so that failures together do not return together
    assert RetryPolicy().delay(10_000) <= RetryPolicy().cap_s  # no overflow after a long outage


def test_a_policy_that_cannot_work_is_refused() -> None:
    for bad in (
        {"base_s": 0},
        {"base_s": 5.0, "cap_s": 1.0},
        {"max_attempts": 0},
        {"jitter": 1.5},
    ):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)  # type: ignore[arg-type]


def test_retry_settings_are_read_per_service_with_documented_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert retry_policy("WALLET") == RetryPolicy(
        base_s=0.2, cap_s=30.0, max_attempts=12, jitter=0.5
    )
    monkeypatch.setenv("WALLET_RETRY_BASE_S", "1.5")
    monkeypatch.setenv("WALLET_RETRY_CAP_S", "60")
    monkeypatch.setenv("WALLET_RETRY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("WALLET_RETRY_JITTER", "0")
    assert retry_policy("WALLET") == RetryPolicy(1.5, 60.0, 3, 0.0)
    assert retry_policy("LEDGER") == RetryPolicy()  # another service keeps its own
    monkeypatch.setenv("WALLET_RETRY_CAP_S", "1")
    with pytest.raises(SettingsError, match="WALLET_RETRY_CAP_S"):
        retry_policy("WALLET")
    monkeypatch.setenv("WALLET_RETRY_CAP_S", "60")
    monkeypatch.setenv("WALLET_RETRY_JITTER", "2")
    with pytest.raises(SettingsError, match="WALLET_RETRY_JITTER"):
        retry_policy("WALLET")


def test_every_service_reads_its_retry_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger_svc.settings import LedgerSettings
    from payment_svc.settings import PaymentSettings
    from wallet_svc.settings import WalletSettings

    for prefix, cls in (
        ("PAYMENT", PaymentSettings),
        ("WALLET", WalletSettings),
        ("LEDGER", LedgerSettings),
    ):
        monkeypatch.setenv(f"{prefix}_RETRY_MAX_ATTEMPTS", "5")
        assert cls.from_env().retry.max_attempts == 5


def test_retention_cannot_be_shorter_than_the_windows_it_protects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = retention_settings()
    assert default.outbox_s == 86_400 and default.inbox_s == 28 * 86_400
    assert (default.interval_s, default.batch) == (600, 1000)
    monkeypatch.setenv("OUTBOX_RETENTION_S", "60")  # inside JetStream's duplicate window
    with pytest.raises(SettingsError, match="OUTBOX_RETENTION_S"):
        retention_settings()
    monkeypatch.setenv("OUTBOX_RETENTION_S", "3600")
    monkeypatch.setenv("INBOX_RETENTION_S", str(7 * 86_400))  # a message lives 14 days
    with pytest.raises(SettingsError, match="INBOX_RETENTION_S"):
        retention_settings()
    monkeypatch.setenv("PSP_EVENTS_RETENTION_S", "3600")  # the PSP redelivers for 3 days
    from payment_svc.settings import PaymentSettings

    monkeypatch.delenv("INBOX_RETENTION_S")
    with pytest.raises(SettingsError, match="PSP_EVENTS_RETENTION_S"):
        PaymentSettings.from_env()


def test_the_settings_know_the_streams_windows() -> None:
    assert mesh_settings.DUPLICATE_WINDOW_S == mesh.jetstream.DUPLICATE_WINDOW_S
    assert mesh_settings.STREAM_MAX_AGE_S == mesh.jetstream.STREAM_MAX_AGE_S


class _Rpc(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


def _raised_from(outer: Exception, cause: Exception) -> Exception:
    try:
        try:
            raise cause
        except Exception as inner:
            raise outer from inner
    except Exception as err:
        return err


@pytest.mark.parametrize(
    "err",
    [
        OperationalError("SELECT 1", {}, Exception("connection refused")),
        StoreUnavailable("database away"),
        PspUnavailable("503"),
        CreditNotYetApplied("po-1"),
        Retry("later"),
        _Rpc(grpc.StatusCode.UNAVAILABLE),
        _Rpc(grpc.StatusCode.DEADLINE_EXCEEDED),
        nats.errors.TimeoutError(),
        nats.errors.ConnectionClosedError(),
        ConnectionRefusedError(),
        TimeoutError(),
        _raised_from(RuntimeError("while saving"), OperationalError("x", {}, Exception("gone"))),
    ],
    ids=repr,
)
def test_a_dependency_out_of_reach_is_transient(err: Exception) -> None:
    assert is_transient(err)


@pytest.mark.parametrize(
    "err",
    [
        ValueError("bad"),
        KeyError("x"),
        Poison("never"),
        PspRejected("400"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        _Rpc(grpc.StatusCode.INVALID_ARGUMENT),
        _Rpc(grpc.StatusCode.FAILED_PRECONDITION),
    ],
    ids=repr,
)
def test_a_failure_of_the_message_or_the_code_is_not_transient(err: Exception) -> None:
    assert not is_transient(err)


def test_the_failure_log_counts_only_what_is_not_an_outage_and_forgets_settled_messages() -> None:
    log = FailureLog(limit=3)
    t0 = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    t1 = datetime(2026, 12, 2, 13, 5, tzinfo=UTC)
    log.record(7, "OperationalError: connection refused", counted=False, at=t0)
    entry = log.record(7, "ValueError: bad\nline two", counted=True, at=t1)
    assert entry.counted == 1
    assert (entry.first_error, entry.first_at) == ("OperationalError: connection refused", t0)
    assert (entry.last_error, entry.last_at) == ("ValueError: bad line two", t1)
    log.forget(7)
    assert len(log) == 0
    for seq in range(10):
        log.record(seq, "x", counted=True)
    assert len(log) == 3  # bounded


def test_header_text_is_one_printable_line() -> None:
    assert header_text("a\r\nb\tc é" + "x" * 600) == ("a b c ?" + "x" * 600)[:500]


def test_a_dead_letter_keeps_the_original_and_its_failures_and_replays_with_a_fresh_id() -> None:
    log = FailureLog()
    log.record(42, "StoreUnavailable: db away", counted=False)
    failures = log.record(42, "refused: fee above amount", counted=True)
    headers = dead_letter_headers(
        {"Nats-Msg-Id": "evt-1", "Traceparent": "00-abc-def-01"},
        reason="poison",
        subject="payment.order.succeeded",
        stream="PAYMENT",
        stream_seq=42,
        consumer="wallet-credit",
        attempts=9,
        failures=failures,
    )
    assert headers[SUBJECT] == "payment.order.succeeded"
    assert headers[CONSUMER] == "wallet-credit"
    assert (headers[ATTEMPTS], headers[FAILURES]) == ("9", "1")
    assert headers[FIRST_ERROR] == "StoreUnavailable: db away"
    assert headers[LAST_ERROR] == "refused: fee above amount"
    assert headers[NATS_MSG_ID] == "dlq:wallet-credit:PAYMENT:42"
    assert headers["Traceparent"] == "00-abc-def-01"

    letter = DeadLetter.from_stream(5, headers, b"payload", None)
    assert letter.original_msg_id == "evt-1"
    assert letter.headers == {"Traceparent": "00-abc-def-01"}
    first, second = letter.replay_headers(), letter.replay_headers()
    assert first["Traceparent"] == "00-abc-def-01"
    assert first[NATS_MSG_ID] != second[NATS_MSG_ID] != "evt-1"
