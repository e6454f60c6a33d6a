"""syncruntime."""
