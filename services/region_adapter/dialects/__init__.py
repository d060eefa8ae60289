"""Region dialects, one module each; pure functions over passerelle.translation types."""
