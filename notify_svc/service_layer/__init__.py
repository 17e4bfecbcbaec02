"""The notify service's use cases, over its ports (no database, broker or HTTP here)."""
