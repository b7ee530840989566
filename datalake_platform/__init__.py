"""datalake_platform: a cloud-agnostic datalake as a Dagster asset graph over PySpark.

`dagster ... -m datalake_platform` loads `defs` from here.
"""

from datalake_platform.definitions import defs

__all__ = ["defs"]
