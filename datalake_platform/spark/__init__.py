"""Spark: the session factory and the Spark configuration of each backend."""
