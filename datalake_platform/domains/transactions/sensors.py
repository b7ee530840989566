"""The transactions domain's landing sensor: new purchase files are ingested by themselves."""

import dagster as dg

from datalake_platform.domains.transactions.tables import DAILY_SALES, LANDING_PURCHASES, PURCHASES, landing_days
from datalake_platform.ingestion.landing import LandingTable
from datalake_platform.ingestion.sensors import landing_sensor

LANDING = LandingTable(
    LANDING_PURCHASES,
    landing_days,
    targets=(dg.AssetKey(PURCHASES.key_path), dg.AssetKey(DAILY_SALES.key_path)),
)

purchases_files = landing_sensor(LANDING)
