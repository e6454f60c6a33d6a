"""syncline_cli."""
