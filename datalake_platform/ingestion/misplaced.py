"""Files in `dt=` folders whose name is not a day: quarantined whole, so no landing row is lost.

Such a folder (`dt=19970102`, `dt=1997-13-01`) is no partition, and the platform never moves
landing files to where they should have been. Its records are kept in one unpartitioned
quarantine table per landing table, rewritten whenever the set of such folders or their files
change (the landing sensor requests it). Once the producer moves the files into a proper day
folder, that day is ingested and the next rewrite drops them from here.
"""

from collections.abc import Iterator

import dagster as dg
import pandera.pyspark as pa
import pyspark.sql.types as T
from pyspark.sql import functions as F

from datalake_platform.ingestion import counting
from datalake_platform.ingestion.landing import LandingTable, malformed_files
from datalake_platform.ingestion.records import quarantined, read_records, unreadable_files
from datalake_platform.metadata import table_metadata
from datalake_platform.quality.checks import NothingLost
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.spark.table_io import write_table

REASON = "malformed_partition_folder"


class MisplacedRecords(pa.DataFrameModel):
    """quarantine/<domain>/<table>_misplaced: records of files outside any day folder."""

    source_file: T.StringType() = pa.Field(description="dt=<folder>/<file>, relative to the landing table")
    line_number: T.IntegerType() = pa.Field(description="1-based line where the record starts")
    raw_line: T.StringType() = pa.Field(description="the record as it arrived (invalid UTF-8 bytes as U+FFFD)")
    raw_bytes: T.BinaryType() = pa.Field(nullable=True, description="the exact bytes of a record that is not UTF-8")
    reason: T.StringType() = pa.Field(isin=[REASON])


def misplaced_files_asset(landing: LandingTable, owners: list[str]) -> dg.AssetsDefinition:
    ref = landing.misplaced
    nothing_lost = NothingLost(
        landing.ref,
        None,
        counting.misplaced_records,
        partitioned=False,
        quarantine=ref,
        records="data record in a malformed dt= folder",
    )

    @dg.asset(
        key=ref.key_path,
        deps=[dg.AssetKey(landing.ref.key_path)],
        group_name=ref.group_name,
        kinds={"spark", "iceberg"},
        owners=owners,
        check_specs=[nothing_lost.spec],
        description=f"Records of the files in {landing.ref}'s dt= folders whose name is not a day "
        f"(reason {REASON}), with file, line and raw text; rewritten when those folders change.",
    )
    def _misplaced(
        context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource
    ) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        session, storage = spark.session(), lake.storage
        files = malformed_files(storage, landing)
        if files:
            context.log.warning(f"{len(files)} files in malformed dt= folders of {landing.ref}: quarantined in {ref}")
        records = read_records(session, files, unreadable=unreadable_files(session, files)).withColumn(
            "reason", F.lit(REASON)
        )
        # A malformed folder has no day: the records keep their folder in source_file instead.
        rows = write_table(quarantined(records.withColumn("dt", F.lit(None))).drop("dt"), storage, ref)
        yield nothing_lost.result(session, storage)
        yield dg.MaterializeResult(
            metadata=table_metadata(
                storage,
                ref,
                MisplacedRecords,
                rows=rows,
                misplaced_files=dg.MetadataValue.json([f.relative_path for f in files[:100]]),
            )
        )

    return _misplaced
