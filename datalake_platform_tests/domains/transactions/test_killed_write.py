"""A run killed mid-write leaves every partition readable and whole: the old version or the new."""

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
    from datalake_platform.lake import storage as st
    from datalake_platform_tests.conftest import resources_for
    from datalake_platform_tests.conftest import LANDING_TABLES, defs
    from datalake_platform.ingestion.landing import register_landing

    root, moment = sys.argv[1], sys.argv[2]
    real_replace, calls = st._replace_dir, []

    def replace_then_die(new, target):
        calls.append(target)
        if moment == "before_commit" or (moment == "between_partitions" and len(calls) == 2):
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(new, target)

    st._replace_dir = replace_then_die
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
    return pd.read_parquet(lake.partition_uri(PURCHASES, day)).sort_values("ID_TRANSACCION").reset_index(drop=True)


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


def test_killed_before_commit_leaves_the_previous_version(lake, lake_v1_then_more_landing, spark):
    v1, before = lake_v1_then_more_landing
    _killed_run(lake, "before_commit")
    for day in DAYS:
        pd.testing.assert_frame_equal(_rows(lake, day), before[day])
        assert spark.read.parquet(lake.partition_uri(PURCHASES, day)).count() == v1[day]


def test_killed_between_partitions_leaves_each_partition_whole(lake, lake_v1_then_more_landing):
    v1, before = lake_v1_then_more_landing
    _killed_run(lake, "between_partitions")
    assert len(_rows(lake, DAYS[0])) == v1[DAYS[0]] + 1  # committed: the new version, whole
    pd.testing.assert_frame_equal(_rows(lake, DAYS[1]), before[DAYS[1]])  # not committed: the old one
    # the next run completes the job: every partition new, no debris visible to readers
    assert materialize(lake, "universal/transactions/purchases", partition_key=DAYS[1]).success
    assert len(_rows(lake, DAYS[1])) == v1[DAYS[1]] + 1
    assert all(p.startswith("dt=") for p in os.listdir(lake.table_uri(PURCHASES)))
