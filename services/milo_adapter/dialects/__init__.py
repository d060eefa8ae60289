"""I-MILO dialects; pure functions over passerelle.core.dialect types."""
