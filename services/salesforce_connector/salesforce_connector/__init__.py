"""salesforce_connector."""
