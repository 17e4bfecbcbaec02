"""The notify ports on PostgreSQL and httpx."""
