"""Alembic migrations of the qwentrade schema (run through ``adapters.sql.migrate``)."""
