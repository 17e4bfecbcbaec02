"""The ports' implementations: PSP report files, PostgreSQL COPY, the DuckDB matcher, sinks."""
