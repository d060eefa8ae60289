"""The domain core: contracts, codec, envelope, dialect vocabulary, partner profiles, views and audit.

No I/O beyond reading the repository's own files; imports no broker, no service and no command.
"""
