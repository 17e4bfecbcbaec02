"""The sandbox's own clockwork: actions and report runs completing later, webhooks being sent
and retried."""

from __future__ import annotations

import asyncio
import logging

from psp_sandbox import report_completions
from psp_sandbox.action_completions import complete_due
from psp_sandbox.context import SandboxContext
from psp_sandbox.payouts import advance_payouts
from psp_sandbox.webhooks import WebhookSender

log = logging.getLogger("psp_sandbox")

TICK_S = 0.05


async def run(context: SandboxContext, sender: WebhookSender) -> None:
    """Until cancelled. A failing tick is logged and the next one tries again."""
    while True:
        try:
            complete_due(context.store, context.event_factory, context.clock())
            report_completions.complete_due(
                context.store, context.settings.files_dir, context.clock()
            )
            advance_payouts(context.store, context.event_factory, context.settings, context.clock())
            await sender.send_due()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background tick failed")
        await asyncio.sleep(TICK_S)
