"""The files of an unpartitioned landing table, at any depth (folders may carry meaning, e.g. a label)."""

from __future__ import annotations

from datalake_platform.lake.storage import LakeStorage, is_data_file
from datalake_platform.lake.table_refs import TableRef


def data_files(storage: LakeStorage, ref: TableRef) -> list[str]:
    """URIs of the complete data files under `ref`, sorted; hidden, temporary and marker files skipped."""
    root = storage.table_uri(ref)
    if not storage.fs.exists(root):
        return []
    prefix = len(storage.fs._strip_protocol(root).rstrip("/")) + 1
    return sorted(
        storage.uri(f"{ref.relative_path}/{relative}")
        for relative in (p[prefix:] for p in storage.fs.find(root))
        if all(is_data_file(part) for part in relative.split("/"))
    )
