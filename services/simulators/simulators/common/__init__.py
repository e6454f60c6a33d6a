"""Pieces both simulators share: TLS with a persistent local CA, serving, fault injection."""
