"""Models of the analytics domain (grown by its own issue)."""
