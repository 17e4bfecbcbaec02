"""The payout service's ports implemented: PostgreSQL (SQLAlchemy Core) and Stripe Connect."""
