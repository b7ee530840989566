"""Exactly once by content: a file whose bytes were already ingested goes to quarantine, not to universal twice."""

import pandas as pd

from datalake_platform.domains.transactions.tables import LANDING_PURCHASES, PURCHASES
from datalake_platform.ingestion import manifest
from datalake_platform_tests.conftest import check_results, land, land_cdnow_day, materialize, table_frame

UNIVERSAL = "universal/transactions/purchases"
DAY, LATER = "1997-01-02", "1997-01-03"


def _rows(lake, ref, day) -> pd.DataFrame:
    return table_frame(lake, ref, day)


def _landed_text(lake, day) -> str:
    [file] = lake.list_landing_files(LANDING_PURCHASES, [day])
    return open(file.path, encoding="utf-8").read()


def _balanced(result) -> tuple[int, int, int]:
    check = check_results(result)[f"{UNIVERSAL}:nothing_lost"]
    assert check.passed
    meta = check.metadata
    return meta["landing_rows"].value, meta["universal_rows"].value, meta["quarantine_rows"].value


def test_the_same_bytes_under_another_name_are_quarantined_as_a_duplicate(lake, cdnow):
    n = land_cdnow_day(lake, cdnow, DAY)
    land(lake, DAY, "resent copy.csv", _landed_text(lake, DAY))
    result = materialize(lake, UNIVERSAL, partition_key=DAY)
    assert result.success
    assert len(_rows(lake, PURCHASES, DAY)) == n
    quarantined = _rows(lake, PURCHASES.quarantine(), DAY)
    assert len(quarantined) == n and set(quarantined.reason) == {"duplicate_file"}
    # the first by name is the one kept: "cdnow_..." < "resent copy.csv"
    assert set(quarantined.source_file) == {f"dt={DAY}/resent copy.csv"}
    assert _balanced(result) == (2 * n, n, n)
    meta = result.asset_materializations_for_node("universal__transactions__purchases")[0].metadata
    assert meta["duplicate_files"].value == {f"dt={DAY}/resent copy.csv": f"dt={DAY}/cdnow_{DAY}.csv"}


def test_a_file_ingested_first_keeps_its_rows_whichever_day_is_rerun(lake, cdnow):
    n = land_cdnow_day(lake, cdnow, DAY)
    assert materialize(lake, UNIVERSAL, partition_key=DAY).success
    land(lake, LATER, "late.csv", _landed_text(lake, DAY))  # yesterday's file sent again today
    later = materialize(lake, UNIVERSAL, partition_key=LATER)
    assert later.success
    assert len(_rows(lake, PURCHASES, LATER)) == 0
    assert set(_rows(lake, PURCHASES.quarantine(), LATER).reason) == {"duplicate_file"}
    assert _balanced(later) == (n, 0, n)
    # Re-running either day keeps the verdict: the first ingested stays the original.
    for day in [DAY, LATER, DAY]:
        assert materialize(lake, UNIVERSAL, partition_key=day).success
    assert len(_rows(lake, PURCHASES, DAY)) == n
    assert len(_rows(lake, PURCHASES, LATER)) == 0
    entries = {e.source_file: e for e in manifest.read(lake, LANDING_PURCHASES)}
    assert entries[f"dt={LATER}/late.csv"].duplicate_of == f"dt={DAY}/cdnow_{DAY}.csv"
    assert entries[f"dt={DAY}/cdnow_{DAY}.csv"].duplicate_of is None
    # A day's entries alone (what nothing_lost reads for a run of that day), not the whole history.
    assert [e.source_file for e in manifest.read(lake, LANDING_PURCHASES, [LATER, "1999-01-01"])] == [
        f"dt={LATER}/late.csv"
    ]
    assert entries[f"dt={DAY}/cdnow_{DAY}.csv"].sha256 == entries[f"dt={LATER}/late.csv"].sha256


def test_identical_rows_in_files_that_differ_are_real_purchases(lake, cdnow):
    """Same size but other bytes, and same rows plus one: neither is a duplicate file."""
    header = "customer_id,date,number_of_cds,dollar_value"
    land(lake, DAY, "a.csv", f"{header}\n00001,19970102,1,11.77\n00001,19970102,1,11.77\n")
    land(lake, DAY, "b.csv", f"{header}\n00001,19970102,1,11.77\n00001,19970102,1,11.78\n")  # same size
    land(lake, DAY, "c.csv", f"{header}\n00001,19970102,1,11.77\n00001,19970102,1,11.77\n00002,19970102,2,1.00\n")
    result = materialize(lake, UNIVERSAL, partition_key=DAY)
    assert result.success
    assert len(_rows(lake, PURCHASES, DAY)) == 7
    assert _balanced(result) == (7, 7, 0)
    hashed = {e.source_file for e in manifest.read(lake, LANDING_PURCHASES) if e.sha256}
    assert hashed == {f"dt={DAY}/a.csv", f"dt={DAY}/b.csv"}  # only files sharing a size are read to hash


def test_a_rerun_keeps_the_manifest(lake, cdnow):
    land_cdnow_day(lake, cdnow, DAY)
    materialize(lake, UNIVERSAL, partition_key=DAY)
    first = manifest.read(lake, LANDING_PURCHASES)
    materialize(lake, UNIVERSAL, partition_key=DAY)
    assert manifest.read(lake, LANDING_PURCHASES) == first
    assert [e.source_file for e in first] == [f"dt={DAY}/cdnow_{DAY}.csv"]


def test_a_manifest_written_before_records_were_kept_reads_them_as_unknown(lake, cdnow):
    """Entries of older manifests have no `records`: read as None, so `nothing_lost` recounts the file."""
    n = land_cdnow_day(lake, cdnow, DAY)
    materialize(lake, UNIVERSAL, partition_key=DAY)
    [entry] = manifest.read(lake, LANDING_PURCHASES)
    assert entry.records == n  # counted by the run that wrote it
    [name] = lake.partition_files(LANDING_PURCHASES.manifest(), [DAY])
    old = pd.read_parquet(name).drop(columns=["records"])  # as a manifest from before the column
    old.to_parquet(name, index=False)
    [entry] = manifest.read(lake, LANDING_PURCHASES)
    assert entry.records is None and entry.source_file == f"dt={DAY}/cdnow_{DAY}.csv"
    assert manifest.recorded_records(lake, LANDING_PURCHASES, lake.list_landing_files(LANDING_PURCHASES, [DAY])) == {}
    assert _balanced(materialize(lake, UNIVERSAL, partition_key=DAY)) == (n, n, 0)  # re-run: counted again
