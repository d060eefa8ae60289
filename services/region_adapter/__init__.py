"""Region adapter: LHEO XML, Region JSON and Region CSV to canonical events and back."""
