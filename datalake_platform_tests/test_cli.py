"""The command line as users and CI run it: `datalake seed` and `dagster asset materialize`."""

import os
import subprocess
from pathlib import Path

import pytest

from datalake_platform.domains.transactions.tables import LANDING_PURCHASES, PURCHASES
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform_tests.conftest import REPO, table_frame

BIN = Path(os.sys.executable).parent


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A lake seeded by `datalake seed` in a subprocess, and the environment that points at it."""
    tmp = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "DATALAKE_ROOT": str(tmp / "lake"), "DAGSTER_HOME": str(tmp / "dagster_home")}
    first = subprocess.run([BIN / "datalake", "seed"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "546 files written, 0 unchanged, 69659 data rows" in first.stdout
    return LocalLakeStorage(str(tmp / "lake")), env


def test_seed_is_idempotent(seeded):
    storage, env = seeded
    again = subprocess.run([BIN / "datalake", "seed"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert "0 files written, 546 unchanged, 69659 data rows" in again.stdout
    assert len(storage.list_partitions(LANDING_PURCHASES)) == 546


def _materialize(env, *args):
    cmd = [
        BIN / "dagster",
        "asset",
        "materialize",
        "-m",
        "datalake_platform.definitions",
        "--select",
        "universal/transactions/purchases",
        *args,
    ]
    out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _landing_rows(storage, day) -> int:
    [file] = storage.list_landing_files(LANDING_PURCHASES, [day])
    return len(Path(file.path).read_text().splitlines()) - 1


def test_dagster_cli_materializes_one_partition(seeded):
    storage, env = seeded
    _materialize(env, "--partition", "1998-06-30")
    rows = table_frame(storage, PURCHASES, "1998-06-30")
    assert len(rows) == _landing_rows(storage, "1998-06-30") > 0
    assert set(rows.FECHA.astype(str)) == {"1998-06-30"}


def test_dagster_cli_materializes_a_range_in_one_run(seeded):
    storage, env = seeded
    out = _materialize(env, "--partition-range", "1998-06-27...1998-06-29")
    for day in ["1998-06-27", "1998-06-28", "1998-06-29"]:
        assert len(table_frame(storage, PURCHASES, day)) == _landing_rows(storage, day)
    assert out.stderr.count("RUN_SUCCESS") == 1
