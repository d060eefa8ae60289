"""Passerelle's deployable services, one package each."""
