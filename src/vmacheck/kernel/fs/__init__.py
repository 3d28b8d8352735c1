"""fs/ models."""
