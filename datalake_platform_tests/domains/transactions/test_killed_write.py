"""A run killed at each step of a commit leaves every partition readable and whole: the old
snapshot or the new one, never a mix; the next run completes the job without duplicating a row."""

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from datalake_platform.domains.transactions.tables import PURCHASES
from datalake_platform_tests.conftest import REPO, land, land_cdnow_day, materialize

DAYS = ["1997-01-02", "1997-01-03"]

# Runs the real assets in a child process that SIGKILLs itself at the chosen moment of the commit.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import dagster as dg
    from pyiceberg.catalog.sql import SqlCatalog
    from datalake_platform.lake import iceberg, storage as st
    from datalake_platform_tests.conftest import resources_for
    from datalake_platform_tests.conftest import LANDING_TABLES, defs
    from datalake_platform.ingestion.landing import register_landing

    root, moment = sys.argv[1], sys.argv[2]
    real_replace, real_commit = iceberg.LakeTables.replace, SqlCatalog.commit_table

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def replace(self, ref, *args, **kwargs):
        if ref.zone == "universal" and moment == "before_commit":
            die()  # the files are written and audited, nothing is committed
        snapshot = real_replace(self, ref, *args, **kwargs)
        if ref.zone == "universal" and moment == "after_commit":
            die()  # the table is committed, its quarantine and manifest are not
        return snapshot

    def commit_table(self, table, requirements, updates):
        if moment == "inside_commit" and table.name()[0] == "universal_transactions":
            die()  # manifests and the new metadata are written, the catalog still points to the old
        return real_commit(self, table, requirements, updates)

    iceberg.LakeTables.replace, SqlCatalog.commit_table = replace, commit_table
    instance = dg.DagsterInstance.ephemeral()
    register_landing(instance, st.LocalLakeStorage(root), LANDING_TABLES)
    dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection="universal/transactions/purchases",
        resources=resources_for(st.LocalLakeStorage(root)),
        instance=instance,
        tags={"dagster/asset_partition_range_start": "1997-01-02", "dagster/asset_partition_range_end": "1997-01-03"},
    )
    """
)


def _rows(lake, day) -> pd.DataFrame:
    """The day's rows as pandas reads the files its current snapshot lists."""
    files = lake.partition_files(PURCHASES, [day])
    return pd.concat(map(pd.read_parquet, files)).sort_values("ID_TRANSACCION").reset_index(drop=True)


def _killed_run(lake, moment):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, lake.root, moment],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr[-3000:]  # it really died by SIGKILL


@pytest.fixture
def lake_v1_then_more_landing(lake, cdnow):
    """Both days materialized from the real files (v1), then one more file lands on each day."""
    v1 = {day: land_cdnow_day(lake, cdnow, day) for day in DAYS}
    for day in DAYS:
        assert materialize(lake, "universal/transactions/purchases", partition_key=day).success
    before = {day: _rows(lake, day) for day in DAYS}
    for day in DAYS:
        compact = day.replace("-", "")
        land(lake, day, "late.csv", f"customer_id,date,number_of_cds,dollar_value\n99999,{compact},1,1.00\n")
    return v1, before


@pytest.mark.parametrize("moment", ["before_commit", "inside_commit", "after_commit"])
def test_a_run_killed_at_each_step_of_a_commit_leaves_whole_partitions(lake, lake_v1_then_more_landing, moment):
    v1, before = lake_v1_then_more_landing
    _killed_run(lake, moment)
    for day in DAYS:
        if moment == "after_commit":  # committed: the new snapshot, whole
            assert len(_rows(lake, day)) == v1[day] + 1
        else:  # not committed: the previous snapshot, untouched
            pd.testing.assert_frame_equal(_rows(lake, day), before[day])
    # the next run completes the job: every day new, each row once
    for day in DAYS:
        assert materialize(lake, "universal/transactions/purchases", partition_key=day).success
        rows = _rows(lake, day)
        assert len(rows) == v1[day] + 1 and rows["ID_TRANSACCION"].is_unique
    assert lake.row_counts(PURCHASES, DAYS) == {day: v1[day] + 1 for day in DAYS}
