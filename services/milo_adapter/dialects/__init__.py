"""I-MILO dialects; pure functions over passerelle.translation types."""
