"""The wallet's ports implemented with PostgreSQL (SQLAlchemy Core on psycopg 3)."""
