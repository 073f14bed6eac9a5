"""Small shared helpers (errors, console summary)."""
