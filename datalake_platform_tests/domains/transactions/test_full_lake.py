"""The whole CDNOW log through the whole lake, checked against an independent pandas computation."""

import dagster as dg
import pandas as pd
import pytest

from datalake_platform import registry
from datalake_platform.domains.transactions.seed import SAMPLE
from datalake_platform.domains.transactions.tables import DAILY_SALES, PURCHASES, REPORT_BY_PERSON
from datalake_platform.ingestion.landing import register_landing
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.runs import materialize_all
from datalake_platform.settings import Settings
from datalake_platform_tests.conftest import LANDING_TABLES, defs, resources_for, table_frame


@pytest.fixture(scope="module")
def full_lake(tmp_path_factory, spark):
    storage = LocalLakeStorage(str(tmp_path_factory.mktemp("full") / "lake"))
    registry.seed_all(storage, Settings())
    instance = dg.DagsterInstance.ephemeral()
    register_landing(instance, storage, LANDING_TABLES)
    summaries = materialize_all(defs, instance, resources=resources_for(storage))
    return storage, summaries, instance


@pytest.fixture(scope="module")
def raw_log() -> pd.DataFrame:
    """CDNOW_master.txt read by pandas, not by the platform: amounts as integer cents."""
    raw = pd.read_csv(SAMPLE, sep=r"\s+", dtype={"customer_id": str, "date": str})
    raw["cents"] = (raw["dollar_value"] * 100).round().astype("int64")
    raw["day"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.date
    return raw


def _cents(series) -> pd.Series:
    return series.map(lambda d: int(d * 100))


def test_every_run_succeeds_in_one_run_per_partitioning_with_checks_passing(full_lake):
    storage, summaries, instance = full_lake
    assert [s.success for s in summaries] == [True, True]
    assert all(not s.failed_checks for s in summaries)
    assert len(summaries) == 2  # the whole daily range in a single run, then the report
    assert len(storage.list_partitions(PURCHASES)) == 546


def test_nothing_is_lost(full_lake, raw_log):
    storage, _, _ = full_lake
    days = storage.list_partitions(PURCHASES)
    kept = sum(storage.row_counts(PURCHASES, days).values())
    rejected = sum(storage.row_counts(PURCHASES.quarantine(), days).values())
    assert kept + rejected == len(raw_log) == 69659
    assert rejected == 0  # the CDNOW log is clean


def test_report_matches_an_independent_computation_to_the_cent_for_every_person(full_lake, raw_log):
    storage, _, _ = full_lake
    report = table_frame(storage, REPORT_BY_PERSON).set_index("ID_PERSONA").sort_index()
    expected = raw_log.groupby("customer_id").agg(
        cents=("cents", "sum"), n=("cents", "size"), first=("day", "min"), last=("day", "max")
    )
    assert list(report.index) == list(expected.index)  # 23,570 persons, ids with leading zeros
    assert len(report) == 23570
    assert (_cents(report.MONTO_TRANSACCIONES) == expected.cents).all()
    assert (report.NUM_TRANSACCIONES == expected.n).all()
    assert (report.PRIMERA_COMPRA == expected["first"]).all() and (report.ULTIMA_COMPRA == expected["last"]).all()


def test_daily_sales_match_per_day_sums(full_lake, raw_log):
    storage, _, _ = full_lake
    sales = table_frame(storage, DAILY_SALES)
    sales["day"] = pd.to_datetime(sales.dt.astype(str)).dt.date
    sales = sales.set_index("day").sort_index()
    expected = raw_log.groupby("day").agg(
        cents=("cents", "sum"), n=("cents", "size"), persons=("customer_id", "nunique")
    )
    assert (_cents(sales.MONTO_TOTAL) == expected.cents).all()
    assert (sales.NUM_TRANSACCIONES == expected.n).all() and (sales.NUM_PERSONAS == expected.persons).all()


def test_materializations_are_recorded_per_partition_with_that_days_rows(full_lake, raw_log):
    _, _, instance = full_lake
    key = dg.AssetKey(PURCHASES.key_path)
    assert len(instance.get_materialized_partitions(key)) == 546
    events = instance.fetch_materializations(key, limit=1000).records
    rows = {e.partition_key: e.asset_materialization.metadata["dagster/partition_row_count"].value for e in events}
    expected = raw_log.groupby(raw_log.day.astype(str)).size()
    assert rows == expected.to_dict() and len(rows) == 546  # every day in the log has purchases


def test_report_total_in_metadata_is_the_logs_total_to_the_cent(full_lake, raw_log):
    _, _, instance = full_lake
    event = instance.get_latest_materialization_event(dg.AssetKey(REPORT_BY_PERSON.key_path))
    metadata = event.asset_materialization.metadata
    assert metadata["total_amount"].value == f"{raw_log.cents.sum() // 100}.{raw_log.cents.sum() % 100:02d}"
    assert metadata["dagster/row_count"].value == 23570


def test_the_whole_graph_includes_the_stream_and_the_checkpointed_pipeline(full_lake):
    """`datalake demo`'s graph: every tweet scored exactly once; the enrichment's checkpoints and output complete."""
    from datalake_platform.domains.posts.tables import SCORED_POSTS
    from datalake_platform.domains.transactions.enrichment_assets import PIPELINE

    storage, _, _ = full_lake
    scored = table_frame(storage, SCORED_POSTS, columns=["post_id"])
    assert len(scored) == 4200 and scored["post_id"].is_unique
    assert [storage.table_rows(ref) for ref in PIPELINE.refs()] == [69659] * len(PIPELINE.refs())
