"""Persistence: the database (SQLite or PostgreSQL), its schema, and the practice's settings."""
