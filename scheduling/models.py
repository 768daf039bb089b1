"""Models of the scheduling domain (grown by its own issue)."""
