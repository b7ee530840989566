"""datalake_platform: a cloud-agnostic datalake as a Dagster asset graph over PySpark.

`dagster ... -m datalake_platform` loads `defs` from here, lazily: importing the package (or any
module of it, on a cluster or in a Spark worker) reads no environment and builds nothing.
"""

import warnings

import dagster as dg

# We use beta/preview Dagster APIs deliberately and pin the release (single-run backfill
# policies, partitioned checks): their warnings would only bury the real output.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


@dg.definitions
def defs() -> dg.Definitions:
    from datalake_platform.definitions import defs as built  # reads the environment: only when loaded

    return built


__all__ = ["defs"]
