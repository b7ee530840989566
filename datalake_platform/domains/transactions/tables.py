"""The tables of the transactions domain, and the days its partitions are."""

import dagster as dg

from datalake_platform.ingestion.landing import LandingTable
from datalake_platform.lake.table_refs import TableRef, Zone

LANDING_PURCHASES = TableRef(Zone.LANDING, "transactions", "purchases")
PURCHASES = TableRef(Zone.UNIVERSAL, "transactions", "purchases")
REPORT_BY_PERSON = TableRef(Zone.SMART, "transactions", "report_by_person")
DAILY_SALES = TableRef(Zone.SMART, "transactions", "daily_sales")

# A partition per day that has a folder in landing, registered when it appears (see ingestion.landing).
landing_days = dg.DynamicPartitionsDefinition(name="transactions_days")

LANDING_COLUMNS = ["customer_id", "date", "number_of_cds", "dollar_value"]
OWNERS = ["team:transactions"]

# Watched by the landing sensor: its days become partitions of the assets that ingest it.
LANDING = LandingTable(
    LANDING_PURCHASES,
    landing_days,
    targets=(dg.AssetKey(PURCHASES.key_path), dg.AssetKey(DAILY_SALES.key_path)),
)
