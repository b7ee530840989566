"""The transactions domain's landing sensor: new purchase files are ingested by themselves."""

from datalake_platform.domains.transactions.tables import LANDING
from datalake_platform.ingestion.sensors import landing_sensor

__all__ = ["LANDING", "purchases_files"]

purchases_files = landing_sensor(LANDING)
