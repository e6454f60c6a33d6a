"""The only shared I/O: settings, logging, Kafka, PostgreSQL, health and metrics."""
