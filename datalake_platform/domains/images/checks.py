"""The blocking checks of the images tables.

Table contracts are checked by the assets that write them (write-audit-publish, see
`quality.checks.Contract`); nothing lost recounts the landing files independently.
"""

from datalake_platform.domains.images.schemas import TENSOR_RULES, Predictions, Tensors
from datalake_platform.domains.images.tables import LANDING_IMAGES, PREDICTIONS, TENSORS
from datalake_platform.ingestion import counting
from datalake_platform.quality.checks import Contract, NothingLost

TENSORS_CONTRACT = Contract(TENSORS, Tensors, TENSOR_RULES, partitioned=False)
PREDICTIONS_CONTRACT = Contract(PREDICTIONS, Predictions, partitioned=False)
# Each image file is one record: a storage listing, not Spark's.
TENSORS_NOTHING_LOST = NothingLost(
    LANDING_IMAGES, TENSORS, counting.whole_files, partitioned=False, records="image file", counted_by_spark=False
)

checks = [TENSORS_NOTHING_LOST.definition()]
