"""The independent oracle: batch recomputation of profiles from an event log (docs/profile.md)."""
