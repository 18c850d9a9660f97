"""Event contracts (pydantic v2) and their decoding. Pure: no I/O."""
