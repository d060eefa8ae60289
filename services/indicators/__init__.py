"""Indicators: the agreement's indicators computed from canonical events."""
