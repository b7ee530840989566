"""The transactions domain as the registry sees it."""

from datalake_platform.domains.transactions import assets
from datalake_platform.domains.transactions.checks import checks
from datalake_platform.domains.transactions.enrichment_assets import enrichment_assets
from datalake_platform.domains.transactions.governance import GOVERNANCE
from datalake_platform.domains.transactions.online import ONLINE
from datalake_platform.domains.transactions.seed import seed
from datalake_platform.domains.transactions.tables import LANDING, OWNERS
from datalake_platform.registry import Domain

DOMAIN = Domain(
    name="transactions",
    owners=OWNERS,
    governance=GOVERNANCE,
    online=ONLINE,
    seed=seed,
    assets=[
        assets.landing_purchases,
        assets.universal_purchases,
        assets.daily_sales,
        assets.report_by_person,
        assets.misplaced_purchases,
        *enrichment_assets,
    ],
    checks=list(checks),
    landing_tables=[LANDING],
)
