"""datalake_platform: a cloud-agnostic datalake as a Dagster asset graph over PySpark.

`dagster ... -m datalake_platform` loads `defs` from here.
"""

import warnings

import dagster as dg

# We use beta/preview Dagster APIs deliberately and pin the release (single-run backfill
# policies, partitioned checks): their warnings would only bury the real output.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

from datalake_platform.definitions import defs  # noqa: E402

__all__ = ["defs"]
