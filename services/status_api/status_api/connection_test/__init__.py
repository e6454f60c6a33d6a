"""The connection test (LS-70, LS-42): stage by stage, each pass/fail with the exact remote
error and a remediation. Talks to the real endpoints over HTTPS (CA bundle configurable)."""
