"""The payout service's use cases and the ports they talk to."""
