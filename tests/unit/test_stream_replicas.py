"""NATS_STREAM_REPLICAS: on a NATS cluster the mesh's streams are kept in that many copies, both
when a service creates them and when it finds them already there (scaling 1 -> 3 on upgrade)."""

from __future__ import annotations

import pytest
from nats.js import api
from nats.js.errors import NotFoundError

from mesh.jetstream import STREAMS, ensure_streams
from mesh.settings import SettingsError
from wallet_svc.settings import WalletSettings


class RecordingJetStream:
    """The three JetStream calls ensure_streams makes; `existing` streams are found."""

    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.added: dict[str, api.StreamConfig] = {}
        self.updated: dict[str, api.StreamConfig] = {}

    async def stream_info(self, name: str) -> None:
        if name not in self.existing:
            raise NotFoundError

    async def add_stream(self, config: api.StreamConfig) -> None:
        self.added[config.name or ""] = config

    async def update_stream(self, config: api.StreamConfig) -> None:
        self.updated[config.name or ""] = config


async def test_every_stream_is_created_or_updated_with_the_replicas_asked_for() -> None:
    js = RecordingJetStream(existing={"PAYMENT"})
    await ensure_streams(js, replicas=3)  # type: ignore[arg-type]
    assert set(js.updated) == {"PAYMENT"}
    assert set(js.added) == set(STREAMS) - {"PAYMENT"}
    for config in [*js.added.values(), *js.updated.values()]:
        assert config.num_replicas == 3


def test_replicas_default_to_one_and_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NATS_STREAM_REPLICAS", raising=False)
    assert WalletSettings.from_env().nats_stream_replicas == 1
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "3")
    assert WalletSettings.from_env().nats_stream_replicas == 3
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "0")
    with pytest.raises(SettingsError, match="NATS_STREAM_REPLICAS=0 must be at least 1"):
        WalletSettings.from_env()
