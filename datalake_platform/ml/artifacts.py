"""Model artifacts in the lake's smart zone, versioned by the data they were trained on.

A model lives at `{smart}/{domain}/{model}/version={v}/`, where `v` hashes the training
table's content and the model's spec: re-training on the same data writes the same version
(replacing it atomically), new data or a new spec makes a new one. `current.json` names the
version last published, which the model's checks and predictions use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from datalake_platform.lake.storage import LakeStorage
from datalake_platform.lake.table_refs import TableRef

POINTER = "current.json"


def content_version(df: DataFrame) -> str:
    """16 hex digits that change with the rows' content, whatever their order or file layout."""
    row_hash = F.xxhash64(*df.columns)
    stats = df.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(row_hash.cast("decimal(38,0)")).alias("sum"),
        F.bit_xor(F.xxhash64(row_hash, F.lit(1))).alias("xor"),
    ).first()
    return _hex(f"{df.schema.simpleString()}|{stats['n']}|{stats['sum']}|{stats['xor']}")


def model_version(data_version: str, spec: str) -> str:
    return _hex(f"{data_version}|{spec}")


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ModelStore:
    """The versions of one model asset, through the lake's storage (never a path of its own)."""

    def __init__(self, storage: LakeStorage, ref: TableRef):
        self.storage, self.ref = storage, ref

    def uri(self, version: str) -> str:
        return f"{self.storage.table_uri(self.ref)}/version={version}"

    def publish(self, version: str, write: Callable[[str], None]) -> str:
        """`write(folder)` saves the artifacts into the version's own folder, which no reader opens
        until the pointer names it: writing the pointer (one atomic file) publishes the version."""
        folder = self.uri(version)
        if self.storage.fs.exists(self._pointer()) and self.current() == version:
            return folder  # published already: the same version is the same artifacts
        self.storage.discard(folder)  # what an earlier, killed publication of this version left
        write(folder)
        self.storage.write_bytes(self._pointer(), json.dumps({"version": version}).encode())
        return folder

    def current(self) -> str:
        """The version last published; a clear error when the model was never trained."""
        if not self.storage.fs.exists(self._pointer()):
            raise FileNotFoundError(f"{self.ref} has no published version yet: materialize it first")
        with self.storage.fs.open(self._pointer(), "rb") as fh:
            return json.load(fh)["version"]

    def _pointer(self) -> str:
        return f"{self.storage.table_uri(self.ref)}/{POINTER}"
