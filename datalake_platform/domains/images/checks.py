"""The blocking checks of the images tables.

Table contracts are checked by the assets that write them (write-audit-publish, see
`quality.checks.Contract`); nothing lost recounts the landing files independently.
"""

import dagster as dg

from datalake_platform.domains.images.schemas import TENSOR_RULES, Predictions, Tensors
from datalake_platform.domains.images.tables import LANDING_IMAGES, PREDICTIONS, TENSORS
from datalake_platform.lake.files import data_files
from datalake_platform.quality.checks import Contract
from datalake_platform.resources import LakeResource

TENSORS_CONTRACT = Contract(TENSORS, Tensors, TENSOR_RULES, partitioned=False)
PREDICTIONS_CONTRACT = Contract(PREDICTIONS, Predictions, partitioned=False)


@dg.asset_check(
    asset=dg.AssetKey(TENSORS.key_path),
    name="nothing_lost",
    blocking=True,
    description=f"Every image file in {LANDING_IMAGES} is a row of {TENSORS} or of {TENSORS.quarantine()}.",
)
def images_nothing_lost(lake: LakeResource) -> dg.AssetCheckResult:
    storage = lake.storage
    landed = len(data_files(storage, LANDING_IMAGES))  # a storage listing, not Spark's
    kept, rejected = storage.table_rows(TENSORS), storage.table_rows(TENSORS.quarantine())
    return dg.AssetCheckResult(
        passed=landed == kept + rejected,
        metadata={"landing_files": landed, "universal_rows": kept, "quarantine_rows": rejected},
    )


checks = [images_nothing_lost]
