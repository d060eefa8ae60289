"""The hop runtime: consume a batch, translate, write every output, await the acks, then commit."""
