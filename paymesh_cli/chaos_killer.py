"""The killer of `paymesh chaos`: a plan of kills drawn from the seed, carried out on a thread
of its own while the clients keep paying.

A kill is `kill -9` of one victim once the clients are done with a given number of checkouts
(plus a short random delay), then a random pause with the victim down, then the
victim is started again on the same port and data and waited for. One victim is down at a
time. A process that dies without being killed is started again too (as an orchestrator
would) and reported: it means a service could not ride out a dependency's outage.

It runs on a plain thread because starting PostgreSQL or NATS blocks, and the clients (on the
main thread's event loop) must not stop meanwhile; the thread lives until the stack is stopped,
because the processes it starts die with it (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from paymesh_cli.chaos_stack import VICTIMS, ChaosStack

MAX_DELAY_S = 1.0
MIN_PAUSE_S = 0.2
MAX_PAUSE_S = 3.0
POLL_S = 0.1


@dataclass(frozen=True)
class Kill:
    victim: str
    after_checkouts: int  # fires once the clients are done with this many (or traffic is over)
    delay_s: float  # then this much later
    pause_s: float  # the victim stays down this long


def plan_kills(
    rng: random.Random,
    kills: int,
    checkouts: int,
    victims: tuple[str, ...] = VICTIMS,
    outage_s: float = 0.0,
) -> list[Kill]:
    """The kills of a run, in order: reproducible from the rng's seed. With `outage_s`, each
    victim stays down that long (outage mode: minutes, longer than any retry budget) instead
    of a random pause of a few seconds."""
    moments = sorted(rng.randrange(max(1, checkouts)) for _ in range(kills))
    plan = []
    for moment in moments:
        victim = rng.choice(victims)
        delay_s = rng.uniform(0.0, MAX_DELAY_S)
        pause_s = rng.uniform(MIN_PAUSE_S, MAX_PAUSE_S)
        plan.append(Kill(victim, moment, delay_s, outage_s if outage_s > 0 else pause_s))
    return plan


@dataclass
class KillerReport:
    kills: dict[str, int] = field(default_factory=dict)  # victim -> times killed
    unasked_exits: list[str] = field(default_factory=list)  # "<name>: how it ended"
    error: str | None = None  # why the killer had to stop (a victim did not come back)

    @property
    def total(self) -> int:
        return sum(self.kills.values())


class Killer(threading.Thread):
    def __init__(
        self,
        stack: ChaosStack,
        plan: list[Kill],
        finished: Callable[[], int],
        traffic_over: threading.Event,
        say: Callable[[str], None],
    ) -> None:
        super().__init__(name="chaos-killer", daemon=True)
        self.stack = stack
        self.plan = plan
        self.finished = finished
        self.traffic_over = traffic_over
        self.say = say
        self.report = KillerReport()
        self.done = threading.Event()  # every planned kill carried out (or an error)
        self.release = threading.Event()  # set after the stack stopped: the thread may end
        self.current: str | None = None  # the victim down right now, for progress lines
        self.fired = 0  # kills carried out so far
        # (victim, seconds down, monotonic and UTC moment it was back), for the drain figures
        self.backs: list[tuple[str, float, float, datetime]] = []

    def run(self) -> None:
        try:
            for n, kill in enumerate(self.plan, 1):
                self._wait(
                    lambda k=kill: (
                        self.finished() >= k.after_checkouts  # type: ignore[misc]
                        or self.traffic_over.is_set()
                    )
                )
                self._sleep(kill.delay_s)
                self.current = kill.victim
                self.stack.kill(kill.victim)
                self.fired = n
                self.report.kills[kill.victim] = self.report.kills.get(kill.victim, 0) + 1
                self.say(f"kill {n}/{len(self.plan)}: {kill.victim} (down {kill.pause_s:.1f}s)")
                down_at = time.monotonic()
                self._sleep(kill.pause_s)  # others that die meanwhile are started again
                started = time.monotonic()
                self.stack.revive(kill.victim)
                self.current = None
                back = time.monotonic()
                self.backs.append((kill.victim, back - down_at, back, datetime.now(UTC)))
                self.say(f"{kill.victim} back after {back - started:.1f}s")
            self.done.set()
            while not self.release.is_set():
                self._heal()
                self.release.wait(POLL_S * 5)
        except Exception as err:
            self.report.error = f"{type(err).__name__}: {err}"
            self.done.set()
            self.release.wait()  # keep the processes this thread started alive until stop

    def kills_due_before(self, checkout: int, margin: int) -> int:
        """How many kills must have happened before the `checkout`-th is sent: those planned
        at least `margin` checkouts earlier (margin: the clients' concurrency, so that a kill
        finds up to that many requests in flight)."""
        return sum(1 for k in self.plan if k.after_checkouts + margin <= checkout)

    def _wait(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self._heal()
            time.sleep(POLL_S)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        self._wait(lambda: time.monotonic() >= deadline)

    def _heal(self) -> None:
        """Start again whatever died without being killed, and say so."""
        for name in self.stack.died_unasked():
            how = self.stack.exit_report(name)
            self.report.unasked_exits.append(how.splitlines()[0])
            self.say(f"UNEXPECTED: {how}\nstarting {name} again")
            self.stack.revive(name)
