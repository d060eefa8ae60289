"""Kafka plumbing shared by every service: the embedded broker, topic names, client settings."""
