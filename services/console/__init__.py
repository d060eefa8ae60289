"""The operator console: flows, dead letters and partner views, as server-rendered HTML pages in French."""
