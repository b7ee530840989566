"""The transactions domain over every landed day, as `datalake demo` runs it, in a process of its own.

Run by the cluster tests: Spark's master is fixed when a process's session starts, and the test
process already has its local session. Resources come from the environment, as in a deployment
(DATALAKE_ROOT, DATALAKE_SPARK_MASTER). Prints one JSON line: each run's outcome.
"""

import json

import dagster as dg

from datalake_platform import registry
from datalake_platform.definitions import resources_for
from datalake_platform.domains.transactions import assets
from datalake_platform.domains.transactions.checks import checks
from datalake_platform.ingestion.landing import register_landing
from datalake_platform.lake.backends import storage_for_root
from datalake_platform.runs import materialize_all
from datalake_platform.settings import current

defs = dg.Definitions(
    assets=[assets.landing_purchases, assets.universal_purchases, assets.daily_sales, assets.report_by_person],
    asset_checks=checks,
    resources=resources_for(settings := current()),
)
with dg.DagsterInstance.ephemeral() as instance:
    register_landing(instance, storage_for_root(settings.lake_root), registry.landing_tables())
    summaries = materialize_all(defs, instance, log_level="INFO")
from datalake_platform.spark import session as spark_session  # noqa: E402

print("SESSION " + type(spark_session._session).__module__)  # pyspark.sql.connect.session under DATALAKE_SPARK_REMOTE
print(
    "RESULT "
    + json.dumps([{"name": s.name, "success": s.success, "failed_checks": s.failed_checks} for s in summaries])
)
