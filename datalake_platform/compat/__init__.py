"""The private APIs of the pinned Dagster and pyspark, and the differences between Spark lines, in one
room: `compat.spark` and `compat.dagster`. Nothing else in the platform touches an underscore of
either library; each shim has a test under `datalake_platform_tests/compat/` that fails loudly when a
pinned version changes what it relies on.
"""
