"""Synthetic customers, catalog, event stream and notification feedback. Pure: no I/O."""
