"""datalake_platform: a cloud-agnostic datalake as a Dagster asset graph over PySpark.

Importing the package (or any module of it, on a cluster or in a Spark worker) reads no
environment and builds nothing: Dagster loads `datalake_platform.definitions:defs`, lazily.
"""
