"""The job entrypoint under a real `spark-submit`, launched through Dagster Pipes with the cloud
libraries' own context injectors and message readers on the lake's store, each on its emulator
(S3 on moto, GCS on fake-gcs-server, Blob on Azurite). The remote materialization must look like the local one: same metadata, same check.
"""

import dagster as dg
import pandas as pd
import pytest

from datalake_platform.compute.remote import SparkSubmitCompute, on_remote_compute
from datalake_platform.domains.transactions import assets
from datalake_platform.domains.transactions.tables import LANDING, PURCHASES
from datalake_platform.ingestion.landing import register_days
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.spark.connectors import SOURCES, connector_jars
from datalake_platform_tests.conftest import check_results, land, land_cdnow_day, table_frame

DAYS = ["1997-01-01", "1997-01-02"]
PURCHASES_KEY = dg.AssetKey(PURCHASES.key_path)
CONTRACT = dg.AssetCheckKey(PURCHASES_KEY, "contract")


def _land(storage, cdnow) -> int:
    landed = sum(land_cdnow_day(storage, cdnow, day) for day in DAYS)
    land(
        storage, DAYS[0], "bad.csv", "customer_id,date,number_of_cds,dollar_value\n7,19970101,x,1.00\n"
    )  # one row to quarantine
    return landed


def _materialize(storage, asset, compute=None, days=DAYS) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    register_days(instance, LANDING, days)
    lake = LakeResource(root=storage.location)
    resources = {"lake": lake, "spark": SparkResource(lake=lake), **({"compute": compute} if compute else {})}
    return dg.materialize(
        [assets.landing_purchases, asset],
        selection=dg.AssetSelection.assets(PURCHASES_KEY),
        resources=resources,
        instance=instance,
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
        raise_on_error=False,
    )


def _comparable(metadata: dict) -> dict:
    """Metadata as values; the URIs and snapshots are different lakes'; Pipes' table_schema carries the
    columns (with their constraints) but not table-level constraints."""
    differ = ("dagster/uri", "quarantine_uri", "iceberg/snapshot_id")
    out = {k: getattr(v, "value", v) for k, v in metadata.items() if k not in differ}
    out["dagster/column_schema"] = out["dagster/column_schema"].columns
    return out


@pytest.mark.parametrize("store", ["s3", "gcs", "azure"])
def test_a_remote_materialization_reports_what_a_local_one_does(request, store, cdnow, lake):
    local_lake = lake  # the local run on a folder: quicker, and the same code and metadata but for the URIs
    remote_lake = request.getfixturevalue(f"{store}_lake")
    landed = _land(local_lake, cdnow)
    _land(remote_lake, cdnow)

    local = _materialize(local_lake, assets.universal_purchases)
    jars = (
        connector_jars(store) if store in SOURCES else []
    )  # no ABFS driver here: Spark works on the Azure lake's mirror
    compute = SparkSubmitCompute(
        lake=LakeResource(root=remote_lake.location),
        master="local[1]",
        jars=jars,
        spark_conf={"spark.sql.shuffle.partitions": "2"},
    )
    remote = _materialize(remote_lake, on_remote_compute(assets.universal_purchases), compute)

    assert local.success and remote.success
    [local_event] = local.asset_materializations_for_node("universal__transactions__purchases")[:1]
    remote_events = remote.asset_materializations_for_node("universal__transactions__purchases")
    assert sorted(e.partition for e in remote_events) == DAYS  # one per day, as locally
    assert _comparable(remote_events[0].metadata) == _comparable(local_event.metadata)
    rows_per_day = lambda events: {e.partition: e.metadata["dagster/partition_row_count"].value for e in events}  # noqa: E731
    local_events = local.asset_materializations_for_node("universal__transactions__purchases")
    assert (
        rows_per_day(remote_events) == rows_per_day(local_events) == {day: len(cdnow[day]) for day in DAYS}
    )  # each day its own
    assert remote_events[0].metadata["dagster/row_count"].value == landed
    assert remote_events[0].metadata["quarantined_rows"].value == 1
    local_check, remote_check = (
        check_results(local)[CONTRACT.to_user_string()],
        check_results(remote)[CONTRACT.to_user_string()],
    )
    assert remote_check.passed and local_check.passed
    assert {k: v.value for k, v in remote_check.metadata.items()} == {
        k: v.value for k, v in local_check.metadata.items()
    }
    # The data itself: written by the cluster's Spark through the lake's commit protocol.
    assert remote_lake.row_counts(PURCHASES, DAYS) == local_lake.row_counts(PURCHASES, DAYS)


NEW_DAY = "1997-01-03"
BROKEN_PERSON = "78"
# A transform bug planted in the remote job alone: Python runs `sitecustomize` at start, found on the
# PYTHONPATH spark-submit is given. Landing data cannot break the contract (every row rule is a
# quarantine reason): only a bug can, and the contract is there to stop it.
PLANTED_BUG = f"""
import datalake_platform.domains.transactions.transforms as transforms
from pyspark.sql import functions as F

_purchases = transforms.purchases


def purchases(classified):
    rows = _purchases(classified)
    person = F.col("ID_PERSONA")
    return rows.withColumn("ID_PERSONA", F.when(person == "{BROKEN_PERSON}", F.lit("7 8")).otherwise(person))


transforms.purchases = purchases
"""


def _day(storage, day: str) -> pd.DataFrame:
    """One published partition, read with the lake's own filesystem (not Spark)."""
    return table_frame(storage, PURCHASES, day).sort_values("ID_TRANSACCION").reset_index(drop=True)


def test_a_remote_job_that_breaks_the_contract_fails_the_step_and_publishes_nothing(
    cdnow, s3_lake, tmp_path, monkeypatch
):
    """A real failure under spark-submit: a bug in the job's transform breaks the contract on the
    cluster's staged write. The step fails with the cluster's error, the failed check comes back
    through Pipes, and the lake keeps its previous version (no new day, the old days unchanged)."""
    landed = _land(s3_lake, cdnow)
    assert _materialize(s3_lake, assets.universal_purchases).success  # the previous version (this process's Spark)
    before = {day: _day(s3_lake, day) for day in DAYS}
    land(
        s3_lake,
        NEW_DAY,
        "more.csv",
        "customer_id,date,number_of_cds,dollar_value\n"
        + "\n".join([*cdnow[NEW_DAY], f"{BROKEN_PERSON},19970103,1,1.00"])
        + "\n",
    )
    (tmp_path / "sitecustomize.py").write_text(PLANTED_BUG)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))

    compute = SparkSubmitCompute(
        lake=LakeResource(root=s3_lake.location),
        master="local[1]",
        jars=connector_jars("s3"),
        spark_conf={"spark.sql.shuffle.partitions": "2"},
    )
    remote = _materialize(s3_lake, on_remote_compute(assets.universal_purchases), compute, days=[*DAYS, NEW_DAY])

    assert not remote.success
    [failure] = [e for e in remote.all_events if e.is_step_failure]
    error = failure.step_failure_data.error
    text = "\n".join(filter(None, [error.message, *(c.message for c in _causes(error))]))
    assert "failed on the cluster" in text and "breaks its contract" in text and "ID_PERSONA" in text, text
    contract = check_results(remote)[CONTRACT.to_user_string()]  # reported by the job, through Pipes
    assert not contract.passed
    assert contract.metadata["failures_by_rule"].value == {"ID_PERSONA:str_matches": 1}
    assert contract.metadata["failed_partitions"].value == [NEW_DAY]
    assert not remote.asset_materializations_for_node("universal__transactions__purchases")
    # Nothing half-written is visible: no partition for the new day, the published days as they were.
    assert s3_lake.list_partitions(PURCHASES) == DAYS
    for day in DAYS:
        pd.testing.assert_frame_equal(_day(s3_lake, day), before[day])
    assert s3_lake.row_counts(PURCHASES, DAYS) == {day: len(before[day]) for day in DAYS}
    assert sum(len(f) for f in before.values()) == landed


def _causes(error):
    """The chained errors of a serialized error (its causes and contexts)."""
    error = error.cause or error.context
    while error is not None:
        yield error
        error = error.cause or error.context


def test_a_posts_table_runs_under_spark_submit_as_it_runs_locally(s3_lake, lake):
    """The posts domain's Spark table (labelled tweets, with its quarantine and contract) under the
    spark-submit of the installed pyspark (CI runs it with 3.5, 4.0 and the newest) on moto's S3."""
    from datalake_platform.domains.posts import assets as posts
    from datalake_platform.domains.posts.seed import seed
    from datalake_platform.domains.posts.tables import LABELLED_TWEETS

    for storage in (lake, s3_lake):
        seed(storage)  # the posts and their human scores, as `datalake seed` lands them
    key = dg.AssetKey(LABELLED_TWEETS.key_path)
    compute = SparkSubmitCompute(
        lake=LakeResource(root=s3_lake.location),
        master="local[1]",
        jars=connector_jars("s3"),
        spark_conf={"spark.sql.shuffle.partitions": "2"},
    )
    results = {}
    for storage, asset, extra in (
        (lake, posts.labelled_tweets, {}),
        (s3_lake, on_remote_compute(posts.labelled_tweets), {"compute": compute}),
    ):
        lake_resource = LakeResource(root=storage.location)
        results[storage.location] = dg.materialize(
            [posts.landing_human_scores, asset],
            selection=dg.AssetSelection.assets(key),
            resources={"lake": lake_resource, "spark": SparkResource(lake=lake_resource), **extra},
            raise_on_error=False,
        )
    local, remote = results[lake.location], results[s3_lake.location]
    assert local.success and remote.success
    node = "universal__posts__labelled_tweets"
    [local_event], [remote_event] = (
        local.asset_materializations_for_node(node),
        remote.asset_materializations_for_node(node),
    )
    for name in ("dagster/row_count", "quarantined_rows"):
        assert remote_event.metadata[name].value == local_event.metadata[name].value, name
    assert remote_event.metadata["dagster/row_count"].value > 4000

    def read(storage):
        return table_frame(storage, LABELLED_TWEETS)

    mine, theirs = (read(s).sort_values("tweet_id").reset_index(drop=True) for s in (lake, s3_lake))
    pd.testing.assert_frame_equal(mine, theirs)
    assert all(e.passed for e in remote.get_asset_check_evaluations())
