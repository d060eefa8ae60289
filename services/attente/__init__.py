"""Attente: notices a young person waiting too long for an answer or an entry, and offers sessions starting sooner."""
