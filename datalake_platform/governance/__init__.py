"""Governance: what each table holds and how its personal data is protected."""
