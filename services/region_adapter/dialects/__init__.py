"""Region dialects, one module each; pure functions over passerelle.core.dialect types."""
