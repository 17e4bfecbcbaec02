"""What every endpoint of one running sandbox shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psp_sandbox.events import EventFactory
from psp_sandbox.faults import FaultConfig
from psp_sandbox.mutations import MutationRunner
from psp_sandbox.settings import SandboxSettings
from psp_sandbox.store import SandboxStore

CONFIG = "config"  # record kind of the sandbox's per-run settings
FAULTS = "faults"  # its id for the fault config


@dataclass
class SandboxContext:
    settings: SandboxSettings
    store: SandboxStore
    clock: Callable[[], float]
    runner: MutationRunner

    @classmethod
    def create(
        cls, settings: SandboxSettings, store: SandboxStore, clock: Callable[[], float]
    ) -> SandboxContext:
        def fault_config() -> FaultConfig:
            return current_faults(store)

        runner = MutationRunner(store, settings.api_key_prefix, fault_config, clock)
        return cls(settings, store, clock, runner)

    def fault_config(self) -> FaultConfig:
        return current_faults(self.store)

    def event_factory(self) -> EventFactory:
        return EventFactory(
            bool(self.settings.webhook_url),
            self.fault_config(),
            self.settings.webhook_events,
            bool(self.settings.connect_webhook_url),
            self.settings.connect_webhook_events,
        )


def current_faults(store: SandboxStore) -> FaultConfig:
    stored = store.records(CONFIG).get(FAULTS)
    return FaultConfig.from_json(stored) if stored is not None else FaultConfig()
