"""Reference data shipped with Passerelle: regions, Mission Locale structures and their communes."""
