"""The tables of the transactions domain, and the days its partitions span."""

import dagster as dg

from datalake_platform.lake.tables import TableRef, Zone

LANDING_PURCHASES = TableRef(Zone.LANDING, "transactions", "purchases")
PURCHASES = TableRef(Zone.UNIVERSAL, "transactions", "purchases")
REPORT_BY_PERSON = TableRef(Zone.SMART, "transactions", "report_by_person")
DAILY_SALES = TableRef(Zone.SMART, "transactions", "daily_sales")

# The CDNOW log spans 1997-01-01 .. 1998-06-30 (end_date is exclusive).
FIRST_DAY, END_DAY = "1997-01-01", "1998-07-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, end_date=END_DAY)

LANDING_COLUMNS = ["customer_id", "date", "number_of_cds", "dollar_value"]
OWNERS = ["team:transactions"]
