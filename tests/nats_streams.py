"""The session NATS is shared by every test of a worker: each test (or module) starts on no
streams."""

from __future__ import annotations


async def delete_streams(url: str) -> None:
    """Delete every JetStream stream on the NATS at `url`: events an earlier test left
    unconsumed would otherwise be consumed, and booked, by the next test's services."""
    import nats

    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        for _ in range(100):  # one page at a time until none is left
            streams = await js.streams_info()
            if not streams:
                break
            for info in streams:
                if info.config.name:
                    await js.delete_stream(info.config.name)
    finally:
        await nc.close()
