"""Admin registrations (filled in by this area)."""
