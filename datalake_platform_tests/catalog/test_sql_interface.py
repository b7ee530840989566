"""The SQL interface: what runs commit is registered where users query it.

Local Spark SQL is real here: `datalake sql` opens the Hive metastore in the lake's work area in
a process of its own and answers queries (and JDBC through the Thrift server). Glue is moto's
Glue. BigQuery, Synapse serverless and Databricks SQL have no emulator: their DDL is generated
from real commits and checked, and their clients are replaced at the SDK boundary only.
"""

import os
import re
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal

import boto3
import pyarrow.dataset as ds
import pytest

from datalake_platform.catalog import bigquery
from datalake_platform.catalog.published import journal_entries, merged, read_entry
from datalake_platform.catalog.resource import CatalogResource, Publisher
from datalake_platform.domains.transactions.tables import PURCHASES, REPORT_BY_PERSON
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.spark.table_io import read_table
from datalake_platform_tests.conftest import REPO, free_port, land_cdnow_day, materialize

DAYS = ["1997-01-01", "1997-01-02"]
LATER = "1997-01-03"
SELECTION = ["universal/transactions/purchases", "smart/transactions/daily_sales"]


def _land_and_materialize(lake, cdnow, days, catalog, report=False):
    for day in days:
        land_cdnow_day(lake, cdnow, day)
    for day in days:
        assert materialize(lake, SELECTION, day, catalog=catalog).success
    if report:
        assert materialize(lake, "smart/transactions/report_by_person", catalog=catalog).success


def _published(lake) -> dict[str, object]:
    return {t.qualified_name: t for t in merged([read_entry(lake, u) for u in journal_entries(lake)])}


def _datalake_sql(lake, *args: str, timeout: int = 180) -> str:
    env = {**os.environ, "DATALAKE_ROOT": lake.root, "DAGSTER_HOME": str(os.path.join(lake.root, "..", "dagster_home"))}
    done = subprocess.run(
        [sys.executable, "-m", "datalake_platform.cli", "sql", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _cells(output: str) -> list[list[str]]:
    """The rows of the `DataFrame.show()` tables printed, one after the other, headers left out."""
    rows, header_next = [], True
    for line in output.splitlines():
        if not line.startswith(("|", "+")):
            header_next = True  # between tables
        elif line.startswith("|"):
            if not header_next:
                rows.append([cell.strip() for cell in line.strip("|").split("|")])
            header_next = False
    return rows


def test_runs_journal_each_commit_and_datalake_sql_answers_from_the_metastore(lake, cdnow):
    _land_and_materialize(lake, cdnow, DAYS, CatalogResource(engine="spark_sql"), report=True)
    published = _published(lake)
    assert set(published) == {
        "universal_transactions.purchases",
        "smart_transactions.daily_sales",
        "smart_transactions.report_by_person",
    }  # quarantine is not published
    purchases = published["universal_transactions.purchases"]
    assert purchases.days == tuple(DAYS) and purchases.location == lake.table_uri(PURCHASES)
    assert dict(purchases.columns)["MONTO"] == "decimal(12,2)"
    entries = len(journal_entries(lake))
    assert materialize(lake, SELECTION, DAYS[0], catalog=CatalogResource(engine="spark_sql")).success
    assert len(journal_entries(lake)) == entries  # a day published before: nothing new to journal (streams)

    files = ds.dataset(lake.table_uri(PURCHASES), format="parquet", partitioning="hive").to_table()
    expected = sum(Decimal(str(v)) for v in files.column("MONTO").to_pylist())
    out = _datalake_sql(lake, "-e", "SELECT count(*) AS n, sum(MONTO) AS total FROM universal_transactions.purchases")
    assert _cells(out) == [[str(files.num_rows), str(expected)]]

    # A day that lands later is registered by the run that commits it, seen at the next open.
    _land_and_materialize(lake, cdnow, [LATER], CatalogResource(engine="spark_sql"))
    report = ds.dataset(lake.table_uri(REPORT_BY_PERSON), format="parquet").to_table()
    out = _datalake_sql(
        lake,
        "-e",
        "SHOW PARTITIONS universal_transactions.purchases; SELECT count(*) FROM smart_transactions.report_by_person",
    )
    assert _cells(out) == [*[[f"dt={d}"] for d in [*DAYS, LATER]], [str(report.num_rows)]]


def _day_counts(beeline_output: str) -> list[tuple[str, int]]:
    """(dt, count) rows of beeline's csv2 output (its prompt lines interleave)."""
    return [(day, int(n)) for day, n in re.findall(r"(\d{4}-\d{2}-\d{2}),(\d+)", beeline_output)]


def test_the_thrift_server_serves_jdbc_and_registers_partitions_as_they_land(lake, cdnow):
    import pyspark

    _land_and_materialize(lake, cdnow, DAYS[:1], CatalogResource(engine="spark_sql"))
    port = free_port()
    env = {**os.environ, "DATALAKE_ROOT": lake.root, "DAGSTER_HOME": str(os.path.join(lake.root, "..", "dagster_home"))}
    server = subprocess.Popen(
        [sys.executable, "-m", "datalake_platform.cli", "sql", "--serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    beeline = [
        os.path.join(os.path.dirname(pyspark.__file__), "bin", "beeline"),
        "-u",
        f"jdbc:hive2://127.0.0.1:{port}",
        "--silent=true",
        "--outputformat=csv2",
    ]
    try:
        for line in server.stdout:  # the server says when it listens
            if "Thrift JDBC server on" in line:
                break
        else:
            pytest.fail("the Thrift server stopped before serving")
        query = [*beeline, "-e", "SELECT dt, count(*) FROM universal_transactions.purchases GROUP BY dt ORDER BY dt"]
        first = subprocess.run(query, capture_output=True, text=True, timeout=120)
        assert _day_counts(first.stdout) == [(DAYS[0], len(cdnow[DAYS[0]]))], first.stderr[-2000:]

        _land_and_materialize(lake, cdnow, [DAYS[1]], CatalogResource(engine="spark_sql"))
        for line in server.stdout:  # the server applies the new journal entry within seconds
            if "registered universal_transactions.purchases" in line:
                break
        second = subprocess.run(query, capture_output=True, text=True, timeout=120)
        assert _day_counts(second.stdout) == [(d, len(cdnow[d])) for d in DAYS], second.stderr[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_glue_holds_every_table_and_each_partition_as_it_lands(s3_lake, cdnow):
    glue = boto3.client("glue")  # moto's Glue, through AWS_ENDPOINT_URL
    _land_and_materialize(s3_lake, cdnow, DAYS, CatalogResource(engine="glue"))
    table = glue.get_table(DatabaseName="universal_transactions", Name="purchases")["Table"]
    bucket_table = (
        "s3://" + s3_lake.location.split("://", 1)[1] + "/universal/transactions/purchases"
    )  # not Hadoop's s3a://
    assert table["StorageDescriptor"]["Location"] == bucket_table
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "date"}]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("ID_TRANSACCION", "string"),
        ("ID_PERSONA", "string"),
        ("FECHA", "date"),
        ("CANTIDAD", "int"),
        ("MONTO", "decimal(12,2)"),
        ("_rescued_data", "string"),
    ]

    def partitions():
        found = glue.get_partitions(DatabaseName="universal_transactions", TableName="purchases")["Partitions"]
        return sorted((p["Values"][0], p["StorageDescriptor"]["Location"]) for p in found)

    assert partitions() == [(d, f"{bucket_table}/dt={d}") for d in DAYS]
    _land_and_materialize(s3_lake, cdnow, [LATER], CatalogResource(engine="glue"))
    assert partitions() == [(d, f"{bucket_table}/dt={d}") for d in [*DAYS, LATER]]
    assert glue.get_table(DatabaseName="smart_transactions", Name="daily_sales")["Table"]["PartitionKeys"]


class RecordingClient:
    """Stands in for an SDK client at its boundary (no emulator exists): records what it is sent."""

    def __init__(self):
        self.sent: list[str] = []
        self.statement_execution = self

    def query(self, statement):  # google.cloud.bigquery.Client.query(...).result()
        self.sent.append(statement)
        return self

    def result(self):
        return None

    def execute_statement(self, statement, warehouse_id, wait_timeout):  # databricks WorkspaceClient
        self.sent.append(statement)
        return type("Response", (), {"status": type("Status", (), {"state": "SUCCEEDED"})()})()


class AzureNamed(LocalLakeStorage):
    """A local folder named as Azure names a container (no Synapse or Azurite needed to check DDL files)."""

    location = "abfss://lake@acct.dfs.core.windows.net/x"


def test_bigquery_synapse_and_databricks_get_ddl_for_what_was_committed(lake, cdnow, spark):
    from datalake_platform.catalog.databricks import DatabricksSqlCatalog

    _land_and_materialize(lake, cdnow, DAYS, CatalogResource(engine="spark_sql"))
    schema = read_table(spark, lake, PURCHASES, None).schema  # the committed table's own
    azure = Publisher(AzureNamed(lake.root), CatalogResource(engine="synapse"))(PURCHASES, schema, DAYS)
    assert azure.location == "abfss://lake@acct.dfs.core.windows.net/x/universal/transactions/purchases"
    view = open(lake.uri("work/catalog/ddl/synapse/universal_transactions.purchases.sql")).read()
    assert view == (
        "IF SCHEMA_ID('universal_transactions') IS NULL EXEC('CREATE SCHEMA [universal_transactions]');\n\n"
        "CREATE OR ALTER VIEW [universal_transactions].[purchases] AS\n"
        "SELECT rows.*,\n    CAST(rows.filepath(1) AS DATE) AS [dt]\n"
        "FROM OPENROWSET(BULK 'https://acct.dfs.core.windows.net/lake/x/universal/transactions/purchases/dt=*/*.parquet', "
        "FORMAT = 'PARQUET')\nWITH (\n    [ID_TRANSACCION] VARCHAR(8000) COLLATE Latin1_General_100_BIN2_UTF8,\n"
        "    [ID_PERSONA] VARCHAR(8000) COLLATE Latin1_General_100_BIN2_UTF8,\n    [FECHA] DATE,\n    [CANTIDAD] INT,\n"
        "    [MONTO] DECIMAL(12, 2),\n    [_rescued_data] VARCHAR(8000) COLLATE Latin1_General_100_BIN2_UTF8\n) AS rows;\n"
    )
    with pytest.raises(ValueError, match="cannot read a lake at"):  # refused before a run writes anything
        CatalogResource(engine="synapse").publisher(lake)

    gcs = replace(azure, location="gs://b/x/universal/transactions/purchases")
    client = RecordingClient()
    catalog = bigquery.BigQueryCatalog("proj", client=client)
    catalog.register(gcs)
    catalog.register(replace(gcs, days=(LATER,)))  # same columns: a new partition needs no DDL
    assert client.sent == [
        "CREATE SCHEMA IF NOT EXISTS `proj.universal_transactions`",
        "CREATE OR REPLACE EXTERNAL TABLE `proj.universal_transactions.purchases` (`ID_TRANSACCION` STRING, "
        "`ID_PERSONA` STRING, `FECHA` DATE, `CANTIDAD` INT64, `MONTO` NUMERIC(12, 2), `_rescued_data` STRING)\n"
        "WITH PARTITION COLUMNS (`dt` DATE)\nOPTIONS (format = 'PARQUET', uris = "
        "['gs://b/x/universal/transactions/purchases/*.parquet'], hive_partition_uri_prefix = "
        "'gs://b/x/universal/transactions/purchases')",
    ]

    client = RecordingClient()
    DatabricksSqlCatalog("main", "wh-1", client=client).register(azure)
    assert client.sent == [
        "CREATE SCHEMA IF NOT EXISTS `main`.`universal_transactions`",
        "CREATE TABLE IF NOT EXISTS `main`.`universal_transactions`.`purchases` (`ID_TRANSACCION` string, "
        "`ID_PERSONA` string, `FECHA` date, `CANTIDAD` int, `MONTO` decimal(12,2), `_rescued_data` string, `dt` DATE) "
        "USING PARQUET PARTITIONED BY (`dt`) LOCATION 'abfss://lake@acct.dfs.core.windows.net/x/universal/transactions/purchases'",
        "ALTER TABLE `main`.`universal_transactions`.`purchases` ADD IF NOT EXISTS "
        + " ".join(f"PARTITION (dt = '{d}') LOCATION '{azure.location}/dt={d}'" for d in DAYS),
    ]


def _table_models():
    """Every pandera model of a universal or smart table, from every domain's schemas module."""
    import importlib
    import pkgutil

    import pandera.pyspark as pa

    import datalake_platform.domains as domains

    for info in pkgutil.iter_modules(domains.__path__):
        try:
            module = importlib.import_module(f"datalake_platform.domains.{info.name}.schemas")
        except ModuleNotFoundError:
            continue
        for model in vars(module).values():
            name = getattr(getattr(model, "Config", None), "name", "") or ""
            if (
                isinstance(model, type)
                and issubclass(model, pa.DataFrameModel)
                and name.startswith(("universal/", "smart/"))
            ):
                yield model


def test_every_table_of_every_domain_has_a_type_in_each_engine():
    from datalake_platform.catalog import synapse
    from datalake_platform.quality.validation import spark_schema

    models = list(_table_models())
    assert len(models) >= 8  # transactions, passengers, images at least
    for model in models:
        for field in spark_schema(model).fields:
            spark_type = field.dataType.simpleString()
            assert bigquery.bigquery_type(spark_type) and synapse.sql_type(spark_type), (model, field)


def test_a_table_whose_columns_change_is_recreated_with_every_partition(spark, tmp_path):
    from datalake_platform.catalog import hive
    from datalake_platform.catalog.published import PublishedTable

    folder = tmp_path / "things"
    for day, rows in {"2020-01-01": [(1, "x")], "2020-01-02": [(2, "y")], "2020-01-03": [(3, "z")]}.items():
        spark.createDataFrame(rows, "a int, b string").write.parquet(str(folder / f"dt={day}"))
    before = PublishedTable(
        "universal", "catalog_test", "things", str(folder), (("a", "int"),), True, ("2020-01-01", "2020-01-02")
    )
    hive.apply(spark, [before])  # the test session's own catalog: the same statements as the metastore's
    first = spark.table("universal_catalog_test.things")
    assert first.columns == ["a", "dt"] and sorted(r.a for r in first.collect()) == [1, 2]

    after = replace(before, columns=(("a", "int"), ("b", "string")), days=("2020-01-03",))  # a new column, a new day
    hive.apply(spark, [after], every_day=lambda t: ("2020-01-01", "2020-01-02", "2020-01-03"))
    rows = spark.sql("SELECT a, b, dt FROM universal_catalog_test.things ORDER BY a").collect()
    assert [(r.a, r.b, str(r.dt)) for r in rows] == [
        (1, "x", "2020-01-01"),
        (2, "y", "2020-01-02"),
        (3, "z", "2020-01-03"),
    ]
