"""Passerelle: the shared core every service uses (contracts, envelope, settings, logging, metrics)."""

__version__ = "0.1.0"
