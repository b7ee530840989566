"""AWS Glue Data Catalog (what Athena, EMR and Redshift Spectrum query): tables and partitions by API.

Credentials, region and endpoint come from boto3's standard chain (`AWS_ENDPOINT_URL` reaches an emulator).
"""

from __future__ import annotations

import contextlib

from datalake_platform.catalog.published import PublishedTable
from datalake_platform.lake.table_refs import PARTITION_COLUMN

PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
BATCH = 100  # batch_create_partition / batch_get_partition take at most 100


def table_input(table: PublishedTable) -> dict:
    return {
        "Name": table.table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        "PartitionKeys": [{"Name": PARTITION_COLUMN, "Type": "date"}] if table.partitioned else [],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in table.columns],
            "Location": table.location,
            **PARQUET,
        },
    }


def partition_input(table: PublishedTable, day: str) -> dict:
    return {
        "Values": [day],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in table.columns],
            "Location": table.partition_location(day),
            **PARQUET,
        },
    }


class GlueCatalog:
    def __init__(self, client=None, catalog_id: str | None = None):
        if client is None:
            import boto3

            client = boto3.client("glue")
        self.glue, self.ids = client, ({"CatalogId": catalog_id} if catalog_id else {})

    def register(self, table: PublishedTable) -> None:
        self._database(table.database)
        wanted = table_input(table)
        try:
            current = self.glue.get_table(DatabaseName=table.database, Name=table.table, **self.ids)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            self.glue.create_table(DatabaseName=table.database, TableInput=wanted, **self.ids)
        else:
            if _differs(current, wanted):
                self.glue.update_table(DatabaseName=table.database, TableInput=wanted, **self.ids)
        if table.partitioned:
            self._partitions(table)

    def _database(self, name: str) -> None:
        with contextlib.suppress(self.glue.exceptions.AlreadyExistsException):
            self.glue.create_database(DatabaseInput={"Name": name}, **self.ids)

    def _partitions(self, table: PublishedTable) -> None:
        days = list(table.days)
        for start in range(0, len(days), BATCH):
            chunk = days[start : start + BATCH]
            found = self.glue.batch_get_partition(
                DatabaseName=table.database,
                TableName=table.table,
                PartitionsToGet=[{"Values": [d]} for d in chunk],
                **self.ids,
            )["Partitions"]
            missing = sorted(set(chunk) - {p["Values"][0] for p in found})
            if missing:
                errors = self.glue.batch_create_partition(
                    DatabaseName=table.database,
                    TableName=table.table,
                    PartitionInputList=[partition_input(table, d) for d in missing],
                    **self.ids,
                ).get("Errors", [])
                if errors:
                    raise RuntimeError(f"Glue refused partitions of {table.qualified_name}: {errors[:3]}")


def _differs(current: dict, wanted: dict) -> bool:
    sd, want = current.get("StorageDescriptor", {}), wanted["StorageDescriptor"]
    return (
        [(c["Name"], c["Type"]) for c in sd.get("Columns", [])] != [(c["Name"], c["Type"]) for c in want["Columns"]]
        or sd.get("Location") != want["Location"]
        or [k["Name"] for k in current.get("PartitionKeys", [])] != [k["Name"] for k in wanted["PartitionKeys"]]
    )
