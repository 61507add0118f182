"""component."""
