"""The images domain as the registry sees it."""

from datalake_platform.domains.images import assets
from datalake_platform.domains.images.checks import checks
from datalake_platform.domains.images.governance import GOVERNANCE
from datalake_platform.domains.images.seed import seed
from datalake_platform.domains.images.tables import OWNERS
from datalake_platform.registry import Domain

DOMAIN = Domain(
    name="images",
    owners=OWNERS,
    governance=GOVERNANCE,
    seed=seed,
    assets=[assets.landing_images, assets.image_tensors, assets.cnn_model, assets.image_predictions],
    checks=list(checks),
)
