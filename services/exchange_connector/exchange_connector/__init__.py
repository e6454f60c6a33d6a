"""exchange_connector."""
