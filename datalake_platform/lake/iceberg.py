"""Apache Iceberg tables: the lake's commit point and catalog, over the parquet files Spark writes.

Every table the platform writes (universal, smart, quarantine, the ingestion manifests, the
checkpoints of long pipelines) is an Iceberg table named `{zone}_{domain}.{table}` in the
environment's catalog. Spark writes a run's files under the table's location
(`data/<write id>/day=<day>/part-*.parquet`), where no reader looks: readers plan their file list
from the table's current snapshot. Publishing is one pyiceberg snapshot that removes the replaced
days' files and adds the new ones, so a run killed before it leaves only files no snapshot
references (the maintenance asset removes them after a grace period), and every engine that reads
Iceberg (Spark, Athena, BigQuery, Trino, DuckDB, Snowflake) sees the same rows.

pyiceberg commits and plans; nothing here writes or reads rows. What it has no API for (a data
file built from a footer already read, with its partition checked against its folder) is written
here, from pyiceberg's own statistics functions.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, BooleanExpression, In
from pyiceberg.io.pyarrow import (
    _check_pyarrow_schema_compatible,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.table import FileScanTask, Table, TableProperties
from pyiceberg.table.update.validate import ValidationException
from pyiceberg.typedef import Record

from datalake_platform.lake.clouds import cloud_of
from datalake_platform.lake.table_refs import PARTITION_COLUMN, TableRef

EPOCH = dt.date(1970, 1, 1)
# Where Spark writes a partitioned table's files for one day, under the write's own folder: a
# column of that name is added for Spark to split by, so the files keep `dt` itself (an Iceberg
# data file must hold its partition column, or readers put its rows in the null partition).
DAY_FOLDER_COLUMN = "day"
# Snapshot summary keys the platform writes (Iceberg's own are kebab-case without a prefix).
SUMMARY_PREFIX = "datalake."


class TableCommitError(RuntimeError):
    """A commit that cannot be made as asked (a concurrent writer won, a file not of the table)."""


@dataclass(frozen=True)
class StagedFile:
    """A parquet file written for a commit: where the table will reference it, and its footer."""

    path: str  # as the table references it (the store's own URI: s3://, gs://, abfss://, file://)
    size: int
    metadata: pq.FileMetaData
    day: str | None  # the partition it was written for; None in an unpartitioned table
    # A file of a lake written before its tables were Iceberg tables (lake.migration): its `dt` is
    # only in its folder's name (`dt=<day>/`, Hive-style), and readers take it from the partition.
    day_in_path: bool = False
    source: str = ""  # where this process reads it, when not at `path` (a mirror's copy of it)


def day_folder(day: str) -> str:
    return f"{DAY_FOLDER_COLUMN}={day}"


def path_day(path: str) -> str | None:
    """The day of a file that holds its `dt` only in its path (a migrated `dt=<day>/` file), else None.

    Iceberg's column projection fills such a column from the file's partition (the spec's rule
    for metadata-only migrations of Hive tables); readers of plain parquet must do the same.
    """
    parts = path.rstrip("/").split("/")
    folder = parts[-2] if len(parts) > 1 else ""
    prefix = f"{PARTITION_COLUMN}="
    return folder[len(prefix) :] if folder.startswith(prefix) else None


def file_arrow_schema(metadata: pq.FileMetaData) -> pa.Schema:
    """A parquet file's schema as Iceberg sees it: Spark's legacy INT96 timestamps are UTC instants
    (Iceberg `timestamptz`), which pyarrow would read as zone-less nanoseconds."""
    schema = metadata.schema.to_arrow_schema()
    int96 = {
        metadata.schema.column(i).path
        for i in range(metadata.num_columns)
        if metadata.schema.column(i).physical_type == "INT96"
    }
    for name in int96 & set(schema.names):
        i = schema.get_field_index(name)
        schema = schema.set(i, schema.field(i).with_type(pa.timestamp("us", tz="UTC")))
    return schema


def identifier(ref: TableRef) -> tuple[str, str]:
    """`{zone}_{domain}`, `{table}`: the namespace and name engines know the table by."""
    return f"{ref.zone}_{ref.domain}", ref.table


def _date(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


def _day_of(value) -> str:
    """A partition value of `dt` as pyiceberg gives it (days since the epoch, or a date)."""
    return (value if isinstance(value, dt.date) else EPOCH + dt.timedelta(days=int(value))).isoformat()


class LakeTables:
    """The lake's Iceberg tables in one catalog, opened from pyiceberg `properties`."""

    def __init__(self, properties: dict[str, str], location_of: Callable[[TableRef], str]):
        self.properties = dict(properties)
        self.location_of = location_of  # a table's location, as the store names it

    @functools.cached_property
    def catalog(self) -> Catalog:
        properties = dict(self.properties)
        uri = properties.get("uri", "")
        if properties["type"] == "sql" and uri.startswith("sqlite:///"):  # SQLite makes the file, not its folder
            Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        return load_catalog(properties.pop("name"), **properties)

    def load(self, ref: TableRef) -> Table | None:
        try:
            table = self.catalog.load_table(identifier(ref))
        except NoSuchTableError:
            return None
        if table.location().rstrip("/") != self.location_of(ref).rstrip("/"):
            raise TableCommitError(
                f"the catalog's {'.'.join(identifier(ref))} is at {table.location()}, not in this lake "
                f"({self.location_of(ref)}): DATALAKE_CATALOG_URI names another lake's catalog"
            )
        return table

    def ensure(self, ref: TableRef, schema: pa.Schema, partitioned: bool) -> Table:
        """The table, created (partitioned by `dt` if `partitioned`) or its schema widened to `schema`."""
        table = self.load(ref)
        if table is None:
            return self._create(ref, schema, partitioned)
        known = {f.name for f in table.schema().fields}
        if any(name not in known for name in schema.names):
            with table.transaction() as tx:
                with tx.update_schema() as update:
                    update.union_by_name(schema)
                tx.set_properties(**{TableProperties.DEFAULT_NAME_MAPPING: _name_mapping(tx.table_metadata.schema())})
        return table

    def _create(self, ref: TableRef, schema: pa.Schema, partitioned: bool) -> Table:
        namespace, _ = identifier(ref)
        self.catalog.create_namespace_if_not_exists(namespace)
        table = self.catalog.create_table_if_not_exists(
            identifier(ref), schema=schema, location=self.location_of(ref), properties=TABLE_PROPERTIES
        )
        if partitioned and table.spec().is_unpartitioned():
            with table.transaction() as tx:
                with tx.update_spec() as spec:
                    spec.add_identity(PARTITION_COLUMN)
                tx.set_properties(**{TableProperties.DEFAULT_NAME_MAPPING: _name_mapping(table.schema())})
        elif table.metadata.name_mapping() is None:
            table.transaction().set_properties(
                **{TableProperties.DEFAULT_NAME_MAPPING: _name_mapping(table.schema())}
            ).commit_transaction()
        return table

    def replace(
        self,
        ref: TableRef,
        schema: pa.Schema,
        files: list[StagedFile],
        days: list[str] | None,
        summary: dict[str, str],
    ) -> int | None:
        """One snapshot in which `days` (every row, with None) hold exactly `files`; its id.

        A concurrent commit to other days is merged by pyiceberg's retries; one to the same days
        makes this commit fail with a clear error, leaving the winner's rows whole.
        """
        table = self.ensure(ref, schema, partitioned=days is not None)
        predicate: BooleanExpression = AlwaysTrue() if days is None else In(PARTITION_COLUMN, [_date(d) for d in days])
        old = [task.file for task in _planned(table, days)]
        if not old and not files:
            return table.current_snapshot().snapshot_id if table.current_snapshot() else None
        new = _data_files(table, files)
        properties = {f"{SUMMARY_PREFIX}{k}": v for k, v in summary.items()}
        try:
            with table.transaction() as tx, tx.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
                overwrite.delete_by_predicate(predicate)
                for data_file in old:
                    overwrite.delete_data_file(data_file)
                for data_file in new:
                    overwrite.append_data_file(data_file)
        except (ValidationException, CommitFailedException) as error:
            raise TableCommitError(
                f"{'.'.join(identifier(ref))}: another run committed {_scope(days)} while this one wrote; "
                f"nothing of this run was published (re-run it to replace theirs): {error}"
            ) from None
        return table.current_snapshot().snapshot_id

    def append(
        self,
        ref: TableRef,
        schema: pa.Schema,
        files: list[StagedFile],
        summary: dict[str, str],
        partitioned: bool = True,
    ) -> int | None:
        """One snapshot that adds `files` to table `ref`, replacing nothing; its id.
        Appends never conflict: concurrent ones all land."""
        table = self.ensure(ref, schema, partitioned)
        new = _data_files(table, files)
        if not new:
            return self.snapshot_id(ref)
        properties = {f"{SUMMARY_PREFIX}{k}": v for k, v in summary.items()}
        with table.transaction() as tx, tx.update_snapshot(snapshot_properties=properties).fast_append() as append:
            for data_file in new:
                append.append_data_file(data_file)
        return table.current_snapshot().snapshot_id

    def register(
        self, ref: TableRef, schema: pa.Schema, files: list[StagedFile], partitioned: bool, summary: dict[str, str]
    ) -> int | None:
        """A table the catalog does not hold yet, created holding `files` (where they are); its snapshot id."""
        if self.load(ref) is not None:
            raise TableCommitError(
                f"{'.'.join(identifier(ref))} is in the catalog already: its files were not registered"
            )
        return self.append(ref, schema, files, summary, partitioned)

    def committed(self, ref: TableRef, key: str, value: str) -> bool:
        """Whether a snapshot of the table records `key` = `value` in its summary (e.g. a stream's batch)."""
        table = self.load(ref)
        return table is not None and any(s.summary.get(f"{SUMMARY_PREFIX}{key}") == value for s in table.snapshots())

    # -- reading: the file list of a snapshot -------------------------------------------------
    def data_files(
        self, ref: TableRef, days: Iterable[str] | None = None, snapshot_id: int | None = None
    ) -> list[DataFile]:
        """The data files of the table's current snapshot (or `snapshot_id`), those of `days` only if given."""
        table = self.load(ref)
        if table is None or table.current_snapshot() is None:
            return []
        tasks = _planned(table, None if days is None else list(days), snapshot_id)
        if any(task.delete_files for task in tasks):
            # Spark's parquet reader would return the deleted rows; no writer of this lake makes them.
            raise TableCommitError(f"{table.name()} has delete files, which the platform's readers cannot apply")
        return sorted((task.file for task in tasks), key=lambda f: f.file_path)

    def rows_by_day(self, ref: TableRef, days: Iterable[str] | None = None) -> dict[str, int]:
        """Rows per partition ("all" in an unpartitioned table), from the manifests: no file is opened."""
        counts: dict[str, int] = {}
        for data_file in self.data_files(ref, days):
            day = self.day_of(data_file) or "all"
            counts[day] = counts.get(day, 0) + data_file.record_count
        return counts

    @staticmethod
    def day_of(data_file: DataFile) -> str | None:
        """The partition of a data file; None in an unpartitioned table."""
        return _day_of(data_file.partition[0]) if len(data_file.partition) else None

    def snapshot_id(self, ref: TableRef) -> int | None:
        table = self.load(ref)
        return table.current_snapshot().snapshot_id if table is not None and table.current_snapshot() else None


def _data_files(table: Table, files: list[StagedFile]) -> list[DataFile]:
    """The Iceberg entries of `files`, their statistics and partition read from their footers."""
    metadata = table.metadata
    schema = metadata.schema()
    stats_columns = compute_statistics_plan(schema, metadata.properties)
    column_mapping = parquet_path_to_id_mapping(schema)
    fitting: list[pq.ParquetSchema] = []  # a write's files share a schema: each kind is checked once
    entries = []
    for staged in files:
        if not any(staged.metadata.schema.equals(known) for known in fitting):
            try:
                _check_pyarrow_schema_compatible(schema, file_arrow_schema(staged.metadata))
            except ValueError as error:
                raise TableCommitError(f"{staged.path} does not fit {table.name()}: {error}") from None
            fitting.append(staged.metadata.schema)
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=staged.metadata, stats_columns=stats_columns, parquet_column_mapping=column_mapping
        )
        if staged.day_in_path:
            partition = Record((_date(staged.day) - EPOCH).days)
        else:
            partition = statistics.partition(metadata.spec(), schema)
        if staged.day is not None and staged.metadata.num_rows and _day_of(partition[0]) != staged.day:
            raise TableCommitError(f"{staged.path} was written for {staged.day} but holds {_day_of(partition[0])}")
        entries.append(
            DataFile.from_args(
                content=DataFileContent.DATA,
                file_path=staged.path,
                file_format=FileFormat.PARQUET,
                partition=partition,
                file_size_in_bytes=staged.size,
                sort_order_id=None,
                spec_id=metadata.default_spec_id,
                equality_ids=None,
                key_metadata=None,
                **statistics.to_serialized_dict(),
            )
        )
    return entries


def _planned(table: Table, days: list[str] | None, snapshot_id: int | None = None) -> list[FileScanTask]:
    """The scan tasks of the table's files of `days` (all, with None) in its current snapshot (or
    `snapshot_id`). The days are picked here from the snapshot's whole plan: pyiceberg binds an `In`
    filter again for every file it plans (days x files: ~8 s for 546 of each)."""
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else table.current_snapshot()
    if snapshot is None:
        return []
    key = (table.metadata.table_uuid, snapshot.snapshot_id)
    tasks = _PLANS.get(key)
    if tasks is None:
        tasks = list(table.scan(snapshot_id=snapshot.snapshot_id).plan_files())
        if len(_PLANS) >= _PLANS_KEPT:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = tasks
    if days is None:
        return tasks
    wanted = set(days)
    return [task for task in tasks if not len(task.file.partition) or _day_of(task.file.partition[0]) in wanted]


# A snapshot never changes: its plan is kept for the next reader of it (a run asks for its tables'
# files and row counts several times). Keyed by table uuid and snapshot id; the oldest go first.
_PLANS: dict[tuple, list[FileScanTask]] = {}
_PLANS_KEPT = 64


def _scope(days: list[str] | None) -> str:
    if days is None:
        return "the table"
    return f"{days[0]}" if len(days) == 1 else f"{len(days)} days ({days[0]} .. {days[-1]})"


def _name_mapping(schema) -> str:
    """Spark's files carry no field ids: readers match their columns to the table's by name."""
    return schema.name_mapping.model_dump_json()


TABLE_PROPERTIES = {
    "format-version": "2",
    # Merge the small manifests of many daily commits as they come (readers plan from fewer files).
    "commit.manifest-merge.enabled": "true",
    "write.parquet.compression-codec": "snappy",
}


# The catalog each cloud's engines read Iceberg tables from, by default: Athena/EMR read Glue;
# BigQuery, Dataproc and BigLake read the BigQuery metastore; Azure Databricks (and the engines it
# federates) reads Unity Catalog, which serves the Iceberg REST protocol. Locally, a SQL catalog
# on SQLite in the lake's work area.
DEFAULT_CATALOG = {"local": "sql", "aws": "glue", "gcp": "bigquery", "azure": "rest"}
CATALOG_KINDS = ("sql", "glue", "bigquery", "rest")
CATALOG_NAME = "datalake"


def catalog_properties(settings, location: str) -> dict[str, str]:
    """The pyiceberg properties of the lake's catalog (`datalake catalog config` prints them).

    `location` is the lake's root as its store names it; for a lake on a bucket, `settings`
    (settings.Settings) choose the catalog and hold the endpoints of emulators in tests.
    """
    cloud = cloud_of(location)
    if cloud == "local":  # a lake in a folder is self-contained: its catalog is a file inside it
        return {
            "name": CATALOG_NAME,
            "type": "sql",
            "uri": f"sqlite:///{location}/work/catalog/iceberg.db",
            "warehouse": f"file://{location}",
        }
    kind = settings.catalog or DEFAULT_CATALOG[cloud]
    if kind not in CATALOG_KINDS:
        raise ValueError(f"DATALAKE_CATALOG={kind!r}: choose one of {', '.join(CATALOG_KINDS)}")
    properties = {"name": CATALOG_NAME, "type": kind, "warehouse": settings.catalog_warehouse or catalog_uri(location)}
    if kind == "sql":
        if not settings.catalog_uri:
            raise ValueError("DATALAKE_CATALOG=sql on a bucket needs DATALAKE_CATALOG_URI (a database URL)")
        properties["uri"] = settings.catalog_uri
    elif kind == "rest":
        if not settings.catalog_uri:
            raise ValueError("DATALAKE_CATALOG=rest needs DATALAKE_CATALOG_URI (the catalog's REST endpoint)")
        properties["uri"] = settings.catalog_uri
    elif kind == "glue":
        properties.update(_some({"glue.region": settings.aws_region, "glue.id": settings.glue_catalog_id}))
        properties.update(_some({"glue.endpoint": settings.catalog_uri or settings.aws_endpoint_url}))
    elif kind == "bigquery":
        properties["gcp.bigquery.project-id"] = settings.google_cloud_project or ""
    properties.update(_file_io(cloud, settings))
    properties.update(settings.catalog_properties or {})
    return properties


def _file_io(cloud: str, settings) -> dict[str, str]:
    """How pyiceberg reaches the store's files: fsspec, as the lake's storage does."""
    io = {"py-io-impl": "pyiceberg.io.fsspec.FsspecFileIO"}
    if cloud == "aws":
        io.update(_some({"s3.endpoint": settings.aws_endpoint_url, "s3.region": settings.aws_region}))
    elif cloud == "gcp":
        io.update(_some({"gcs.project-id": settings.google_cloud_project}))
        if settings.gcs_emulator:
            io.update({"gcs.service.host": settings.gcs_emulator, "gcs.oauth2.token": "anon"})
    elif cloud == "azure":
        io.update(
            _some(
                {
                    "adls.connection-string": settings.azure_connection_string,
                    "adls.account-name": settings.azure_account_name,
                }
            )
        )
    return io


def _some(values: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def catalog_uri(uri: str) -> str:
    """A lake URI as the catalog and every engine name it: S3 is `s3://`; `s3a://` is only Hadoop's
    connector's scheme."""
    return "s3://" + uri[len("s3a://") :] if uri.startswith("s3a://") else uri
