"""The transactions domain as the registry sees it."""

from datalake_platform.domains.transactions import assets, sensors
from datalake_platform.domains.transactions.checks import checks
from datalake_platform.domains.transactions.enrichment_assets import enrichment_assets
from datalake_platform.registry import Domain

DOMAIN = Domain(
    assets=[
        assets.landing_purchases,
        assets.universal_purchases,
        assets.daily_sales,
        assets.report_by_person,
        assets.misplaced_purchases,
        *enrichment_assets,
    ],
    checks=list(checks),
    sensors=[sensors.purchases_files],
    landing_tables=[sensors.LANDING],
)
