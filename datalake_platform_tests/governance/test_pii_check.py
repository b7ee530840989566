"""The blocking pii_protected check catches a transform that lets personal data through in clear,
and stops what is downstream of it (real Spark, real Dagster, the bundled Titanic file)."""

from __future__ import annotations

import csv
import io

from pyspark.sql import functions as F

from datalake_platform.domains.passengers import transforms
from datalake_platform.domains.passengers.seed import SAMPLE, seed
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform_tests.conftest import check_results, materialize


def test_a_name_left_in_clear_fails_the_check_and_blocks_downstream(tmp_path, monkeypatch):
    storage = LocalLakeStorage(str(tmp_path / "lake"))
    seed(storage)
    # A broken mask: the name goes through unchanged. The contract cannot see it (any string is a mask).
    monkeypatch.setattr(transforms, "_mask", lambda c: F.col(f"r.{c}"))
    result = materialize(storage, "universal/passengers/passengers*")
    check = check_results(result)["universal/passengers/passengers:pii_protected"]
    names = [row["Name"] for row in csv.DictReader(io.StringIO(SAMPLE.read_text("utf-8")))]
    assert not check.passed
    assert check.metadata["rows_with_landing_pii"].value == {"NameMasked": len(names)}
    assert check.metadata["rows_not_hashed"].value == {}
    # The values themselves are never in the check's metadata.
    assert not any(names[0] in str(v.value) for v in check.metadata.values())
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "universal/passengers/passengers" in materialized
    assert "smart/passengers/features" not in materialized  # blocked by the failed check
