"""The composition root: the stack of services on one machine, the demo, the offline checks."""
