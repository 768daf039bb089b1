"""Models of the compliance domain (grown by its own issue)."""
