"""Mission Locale adapter: I-MILO JSON to canonical events and back."""
