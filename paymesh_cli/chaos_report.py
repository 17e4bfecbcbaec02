"""The end of a `paymesh chaos` run in words: why it failed (if it did) and its summary."""

from __future__ import annotations

from paymesh_cli.chaos_clients import ClientStats
from paymesh_cli.chaos_killer import KillerReport
from paymesh_cli.chaos_verdict import Verdict


def summary(
    seed: int,
    total: int,
    stats: ClientStats,
    kills: KillerReport,
    verdict: Verdict | None,
    duration_s: float,
    reasons: list[str],
) -> str:
    """What a user reads at the end: the verdict first, the figures, then the reasons."""
    by_victim = ", ".join(f"{v} {n}" for v, n in sorted(kills.kills.items())) or "none"
    retried = ", ".join(f"{k} {n}" for k, n in sorted(stats.retried_on.items())) or "none"
    lines = [
        f"paymesh chaos: {'PASSED' if not reasons else 'FAILED'}",
        f"  seed: {seed}",
        f"  checkouts: {len(stats.accepted)}/{total} accepted",
    ]
    if verdict is not None:
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(verdict.orders_by_status.items()))
        lines.append(f"  orders: {statuses or 'none'}")
        lines.append(f"  orders not terminal: {len(verdict.unsettled)}")
        check = verdict.check
        lines.append(f"  paymesh check: {'ok' if check and check.ok else 'FAILED'}")
        lines.append(
            f"  psp charges: exactly one per SUCCESS order, none for the others: "
            f"{'ok' if not verdict.problems else 'FAILED'}"
        )
        lines.append(f"  settle wait: {verdict.settle_s:.1f}s")
    lines += [
        f"  kills: {kills.total} ({by_victim})",
        f"  unexpected exits: {len(kills.unasked_exits)}",
        f"  client retries: {stats.retries} ({retried})",
        f"  reads: {stats.reads} right, {stats.read_retryable} retryable errors",
        f"  wrong answers: {len(stats.wrong_answers)}",
        f"  duration: {duration_s:.1f}s",
    ]
    lines += [f"  REASON: {r}" for r in reasons]
    return "\n".join(lines)


def reasons(
    total: int,
    stats: ClientStats,
    kills: KillerReport,
    verdict: Verdict | None,
    broken: str | None = None,
) -> list[str]:
    """Why the run failed; empty when everything held."""
    if broken:
        return [broken]
    reasons = [f"wrong answer: {w}" for w in stats.wrong_answers[:10]]
    posts_wrong = sum(1 for w in stats.wrong_answers if not w.startswith("GET "))
    if stats.gave_up:
        reasons.append(f"{len(stats.gave_up)} checkouts never accepted, e.g. {stats.gave_up[0]}")
    if kills.error:
        reasons.append(f"a victim did not come back: {kills.error}")
    reasons += [f"died without being killed: {e}" for e in kills.unasked_exits[:10]]
    if verdict is None:
        return reasons or ["the run did not get to the end"]
    if verdict.unsettled:
        reasons.append(
            f"{len(verdict.unsettled)} orders not terminal, e.g. {', '.join(verdict.unsettled[:5])}"
        )
    if verdict.check is not None:
        reasons += [f"{v.invariant}: {v.detail}" for v in verdict.check.violations[:10]]
    reasons += verdict.problems[:10]
    if not kills.error and len(stats.accepted) + len(stats.gave_up) + posts_wrong != total:
        reasons.append("not every checkout was sent")
    return reasons
