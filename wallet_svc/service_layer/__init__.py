"""The wallet's use cases and the ports they talk to."""
