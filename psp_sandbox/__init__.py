"""A Stripe-compatible test PSP: enough of the PaymentIntents API for the stripe SDK to drive."""

from psp_sandbox.app import create_app
from psp_sandbox.settings import SandboxSettings

__all__ = ["SandboxSettings", "create_app"]
