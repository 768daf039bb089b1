"""Models of the content domain (grown by its own issue)."""
