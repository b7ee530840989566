"""Keyed hashes of personal data: Spark's HMAC-SHA-256 agrees with Python's hmac, and the key comes
from the environment or, in a local lake, from the file the lake made for itself."""

import hashlib
import hmac
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from datalake_platform.governance.pii import LOCAL_KEY_FILE, PiiKeyMissing, keyed_hash, lake_key
from datalake_platform.lake.object_store import S3LakeStorage
from datalake_platform.settings import Settings, SettingsError

VALUES = ["Braund, Mr. Owen Harris", "", "Émile Zola ✓", "x" * 5000, None]


@pytest.mark.parametrize("key", [b"k" * 32, bytes(range(64)), b"a longer key than one block of sha-256 " * 3])
def test_spark_keyed_hash_is_rfc_2104_hmac_sha256(spark, key):
    df = spark.createDataFrame([(v,) for v in VALUES], "v string")
    got = [r.h for r in df.select(keyed_hash(F.col("v"), key).alias("h")).collect()]
    expected = [hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest() if v is not None else None for v in VALUES]
    assert got == expected


def test_a_local_lake_makes_one_private_key_and_keeps_it(lake):
    with ThreadPoolExecutor(4) as pool:  # first uses at once agree on one key
        keys = set(pool.map(lambda _: lake_key(lake, None), range(8)))
    [key] = keys
    path = Path(lake.root) / LOCAL_KEY_FILE
    assert len(key) == 32 and bytes.fromhex(path.read_text()) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # nothing left aside
    assert lake_key(lake, "ab" * 32) == b"\xab" * 32  # a configured key wins


def test_a_bucket_lake_without_a_key_is_refused_with_the_variable_named():
    with pytest.raises(PiiKeyMissing, match="DATALAKE_PII_KEY is not set"):
        lake_key(S3LakeStorage("s3://bucket/lake"), None)


def test_the_key_setting_is_checked_and_never_printed():
    secret = "0123456789abcdef" * 2  # 16 bytes: too short
    with pytest.raises(SettingsError) as error:
        Settings.from_environ({**os.environ, "DATALAKE_PII_KEY": secret})
    assert "DATALAKE_PII_KEY=<secret>" in str(error.value) and secret not in str(error.value)
    settings = Settings.from_environ({**os.environ, "DATALAKE_PII_KEY": secret * 2})
    assert settings.pii_key == secret * 2 and secret not in repr(settings)
