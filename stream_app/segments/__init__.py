"""Segments: named CEL rules over the derived profile view. Pure: no I/O but reading config."""
