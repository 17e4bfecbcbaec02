"""What a dead letter carries, so that an operator can understand it and replay it.

A dead letter is the original message (payload and headers as they were) published to
`dlq.<consumer>` in the DLQ stream, with these headers added:

    Paymesh-Dlq-Reason           poison | undecodable | retries-exhausted, and the last error
    Paymesh-Dlq-Subject          the subject it was published on (replay publishes there again)
    Paymesh-Dlq-Stream           the stream it was in, and its sequence there
    Paymesh-Dlq-Stream-Seq
    Paymesh-Dlq-Consumer         the durable consumer that gave up on it
    Paymesh-Dlq-Attempts         how many times JetStream delivered it to that consumer
    Paymesh-Dlq-Failures         how many of those failed for a reason of its own (not an outage)
    Paymesh-Dlq-First-Error      the first and the last error seen, and when (ISO 8601, UTC)
    Paymesh-Dlq-First-Failed-At
    Paymesh-Dlq-Last-Error
    Paymesh-Dlq-Last-Failed-At
    Paymesh-Dlq-Msg-Id           the original Nats-Msg-Id (the event id for outbox events)

The failure history is what the consumer's process saw (it is kept in memory): after a
restart, the first error is the first one since.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

PREFIX = "Paymesh-Dlq-"
REASON = PREFIX + "Reason"
SUBJECT = PREFIX + "Subject"
STREAM = PREFIX + "Stream"
STREAM_SEQ = PREFIX + "Stream-Seq"
CONSUMER = PREFIX + "Consumer"
ATTEMPTS = PREFIX + "Attempts"
FAILURES = PREFIX + "Failures"
FIRST_ERROR = PREFIX + "First-Error"
FIRST_FAILED_AT = PREFIX + "First-Failed-At"
LAST_ERROR = PREFIX + "Last-Error"
LAST_FAILED_AT = PREFIX + "Last-Failed-At"
MSG_ID = PREFIX + "Msg-Id"
NATS_MSG_ID = "Nats-Msg-Id"

DLQ_STREAM = "DLQ"
DLQ_SUBJECTS = "dlq.>"
MAX_ERROR_CHARS = 500


def dlq_subject(consumer: str) -> str:
    return f"dlq.{consumer}"


def header_text(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` as a header value: one line of printable ASCII, at most `limit` characters."""
    flat = " ".join(text.split())
    return "".join(c if " " <= c <= "~" else "?" for c in flat)[:limit]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Failures:
    """The failures of one message in one consumer: every one is remembered as first/last
    error; only `counted` ones (not an outage) count toward the retry budget."""

    first_error: str
    first_at: datetime
    last_error: str
    last_at: datetime
    counted: int = 0


@dataclass
class FailureLog:
    """Failures per message (stream sequence) in one consumer, while the message is in flight.
    Bounded: past `limit` entries the oldest is forgotten (its message then gets a fresh
    budget, which errs toward retrying, never toward dead-lettering early)."""

    limit: int = 10_000
    _by_seq: dict[int, Failures] = field(default_factory=dict)

    def record(
        self, seq: int, error: str, *, counted: bool, at: datetime | None = None
    ) -> Failures:
        when = at or utc_now()
        text = header_text(error)
        entry = self._by_seq.get(seq)
        if entry is None:
            if len(self._by_seq) >= self.limit:
                self._by_seq.pop(next(iter(self._by_seq)))
            entry = self._by_seq[seq] = Failures(text, when, text, when)
        else:
            entry.last_error, entry.last_at = text, when
        if counted:
            entry.counted += 1
        return entry

    def forget(self, seq: int) -> None:
        self._by_seq.pop(seq, None)

    def __len__(self) -> int:
        return len(self._by_seq)


def dead_letter_headers(
    original: Mapping[str, str] | None,
    *,
    reason: str,
    subject: str,
    stream: str,
    stream_seq: int,
    consumer: str,
    attempts: int,
    failures: Failures,
) -> dict[str, str]:
    """The headers of the dead letter of a message: its own (but its Nats-* ones, kept as
    Paymesh-Dlq-Msg-Id) and the failure's. Its Nats-Msg-Id is one per consumer and original
    message, so that dead-lettering it twice (a crash before the term) keeps one."""
    headers = {k: v for k, v in (original or {}).items() if not k.startswith(("Nats-", PREFIX))}
    headers.update(
        {
            REASON: header_text(f"{reason}: {failures.last_error}"),
            SUBJECT: subject,
            STREAM: stream,
            STREAM_SEQ: str(stream_seq),
            CONSUMER: consumer,
            ATTEMPTS: str(attempts),
            FAILURES: str(failures.counted),
            FIRST_ERROR: failures.first_error,
            FIRST_FAILED_AT: failures.first_at.isoformat(),
            LAST_ERROR: failures.last_error,
            LAST_FAILED_AT: failures.last_at.isoformat(),
            MSG_ID: (original or {}).get(NATS_MSG_ID, ""),
            NATS_MSG_ID: f"dlq:{consumer}:{stream}:{stream_seq}",
        }
    )
    return headers


@dataclass(frozen=True)
class DeadLetter:
    """A message of the DLQ stream as an operator reads it."""

    seq: int  # in the DLQ stream
    dead_at: datetime | None
    consumer: str
    subject: str
    reason: str
    attempts: int
    failures: int
    first_error: str
    first_failed_at: str
    last_error: str
    last_failed_at: str
    original_msg_id: str
    original_stream: str
    original_seq: int
    payload: bytes
    headers: dict[str, str]  # the original message's own headers (none of Paymesh-Dlq-*)

    @classmethod
    def from_stream(
        cls, seq: int, headers: Mapping[str, str] | None, payload: bytes | None, at: datetime | None
    ) -> DeadLetter:
        h = dict(headers or {})

        def num(name: str) -> int:
            try:
                return int(h.get(name, "0"))
            except ValueError:
                return 0

        return cls(
            seq=seq,
            dead_at=at,
            consumer=h.get(CONSUMER, ""),
            subject=h.get(SUBJECT, ""),
            reason=h.get(REASON, ""),
            attempts=num(ATTEMPTS),
            failures=num(FAILURES),
            first_error=h.get(FIRST_ERROR, ""),
            first_failed_at=h.get(FIRST_FAILED_AT, ""),
            last_error=h.get(LAST_ERROR, h.get(REASON, "")),
            last_failed_at=h.get(LAST_FAILED_AT, ""),
            original_msg_id=h.get(MSG_ID, ""),
            original_stream=h.get(STREAM, ""),
            original_seq=num(STREAM_SEQ),
            payload=payload or b"",
            headers={
                k: v for k, v in h.items() if not k.startswith((PREFIX, "Nats-")) and k != "Status"
            },
        )

    def replay_headers(self) -> dict[str, str]:
        """The original headers with a fresh Nats-Msg-Id: the stream's duplicate window must
        not swallow a replay (the consumers' inboxes drop one that was applied already)."""
        return {**self.headers, NATS_MSG_ID: f"replay:{self.seq}:{uuid.uuid4()}"}


class NoSuchDeadLetter(LookupError):
    """No dead letter at that sequence of the DLQ stream."""


async def read_dead_letters(
    js: JetStreamContext, consumer: str | None = None, limit: int | None = None
) -> list[DeadLetter]:
    """The dead letters (of `consumer`), oldest first (one request each: an operator tool)."""
    subject = dlq_subject(consumer) if consumer else DLQ_SUBJECTS
    letters: list[DeadLetter] = []
    seq = 1
    while limit is None or len(letters) < limit:
        try:
            msg = await js.get_msg(DLQ_STREAM, seq=seq, subject=subject, next=True)
        except NotFoundError:  # nothing at or after `seq`, or no DLQ stream at all
            break
        assert msg.seq is not None
        letters.append(DeadLetter.from_stream(msg.seq, msg.headers, msg.data, msg.time))
        seq = msg.seq + 1
    return letters


async def dead_letter_at(js: JetStreamContext, seq: int) -> DeadLetter:
    """The dead letter at `seq`; NoSuchDeadLetter when there is none."""
    try:
        msg = await js.get_msg(DLQ_STREAM, seq)
    except NotFoundError:
        raise NoSuchDeadLetter(f"no dead letter {seq}") from None
    return DeadLetter.from_stream(seq, msg.headers, msg.data, msg.time)


async def replay(js: JetStreamContext, letter: DeadLetter) -> None:
    """Publish the original event again (fresh message id), then delete the dead letter.
    ValueError when the dead letter does not say its subject."""
    if not letter.subject:
        raise ValueError(f"dead letter {letter.seq} does not say its subject")
    await js.publish(letter.subject, letter.payload, headers=letter.replay_headers())
    await js.delete_msg(DLQ_STREAM, letter.seq)


async def discard(js: JetStreamContext, letter: DeadLetter) -> None:
    await js.delete_msg(DLQ_STREAM, letter.seq)
