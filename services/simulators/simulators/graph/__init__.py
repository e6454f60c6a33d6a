"""A Microsoft Graph v1.0 simulator: Outlook contacts and calendar, app-only auth (dev/test)."""
