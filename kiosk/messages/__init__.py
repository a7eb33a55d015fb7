"""The welcome message: its words, the outbox that holds it, and delivery by email or text."""
