"""Keyed pseudonyms of personal data: HMAC-SHA-256 as Spark expressions, with the lake's key.

A plain hash of a name is recovered by hashing a list of candidate names; a keyed hash is not,
without the key. The key is the lake's: `DATALAKE_PII_KEY` (hex, 32 bytes or more; in the cloud,
from its secret manager through the environment), given to the lake resource as a `dg.EnvVar`
so the UI and the run's config show the variable, never the value. A lake in a local folder
without one makes its own on first use, in `work/secrets/` (mode 0600).
"""

from __future__ import annotations

import hashlib
import os
import secrets

from pyspark.sql import Column
from pyspark.sql import functions as F

from datalake_platform.lake.clouds import cloud_of
from datalake_platform.lake.storage import LakeStorage

KEY_VARIABLE = "DATALAKE_PII_KEY"
LOCAL_KEY_FILE = "work/secrets/pii_hmac_key"  # relative to a local lake's root
_BLOCK = 64  # SHA-256's block size in bytes (RFC 2104's B)


class PiiKeyMissing(RuntimeError):
    """A lake on a bucket has no key for its keyed hashes: one is never made there silently."""


def keyed_hash(value: Column, key: bytes) -> Column:
    """HMAC-SHA-256 of `value`'s UTF-8 bytes under `key`, as 64 lowercase hex (null stays null).

    Written by hand (RFC 2104) from Spark's `sha2`: Spark has no HMAC function, and built-ins keep
    every value in the JVM where a Python UDF would ship each one to Python and back. The padded
    key is a literal of the plan: the plan is never logged by the platform.
    """
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner_pad = bytearray(b ^ 0x36 for b in key)
    outer_pad = bytearray(b ^ 0x5C for b in key)
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), value.cast("binary")), 256))
    return F.sha2(F.concat(F.lit(outer_pad), inner), 256)


def lake_key(storage: LakeStorage, configured: str | None) -> bytes:
    """The key of the lake's keyed hashes: `configured` (hex, from `DATALAKE_PII_KEY`) or, in a
    local lake without one, the key it made for itself on first use."""
    if configured:
        return bytes.fromhex(configured)
    if cloud_of(storage.location) != "local":
        raise PiiKeyMissing(
            f"{KEY_VARIABLE} is not set: a lake on {storage.location} hashes personal data with a key "
            "from the environment (e.g. the cloud's secret manager); make one with `openssl rand -hex 32`"
        )
    return bytes.fromhex(_local_key(os.path.join(storage.location, LOCAL_KEY_FILE)))


def _local_key(path: str) -> str:
    """The key in `path`, made there (readable by its owner only) if it does not exist yet. It is
    written aside, then linked in place: two processes making it at once agree on the first one."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if not os.path.exists(path):
        aside = f"{path}.{secrets.token_hex(8)}"
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(aside, path)  # fails if another process linked its key first
        except FileExistsError:
            pass
        finally:
            os.unlink(aside)
    with open(path) as fh:
        return fh.read().strip()
