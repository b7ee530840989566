"""The passengers domain as the registry sees it."""

from datalake_platform.domains.passengers import assets
from datalake_platform.domains.passengers.checks import checks
from datalake_platform.domains.passengers.governance import GOVERNANCE
from datalake_platform.domains.passengers.seed import seed
from datalake_platform.domains.passengers.tables import OWNERS
from datalake_platform.registry import Domain

DOMAIN = Domain(
    name="passengers",
    owners=OWNERS,
    governance=GOVERNANCE,
    seed=seed,
    assets=[
        assets.landing_passengers,
        assets.universal_passengers,
        assets.passenger_features,
        assets.survival_model,
        assets.survival_predictions,
    ],
    checks=list(checks),
)
