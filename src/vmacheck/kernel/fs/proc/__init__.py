"""fs/proc models."""
