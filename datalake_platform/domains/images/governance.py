"""Governance of the images tables: CIFAR-10 pictures of objects and animals (and generated
ones): public data, no person in them."""

from datalake_platform.domains.images.schemas import Predictions, Tensors
from datalake_platform.domains.images.tables import CNN_MODEL, LANDING_IMAGES, OWNERS, PREDICTIONS, TENSORS
from datalake_platform.governance.spec import Classification, TableGovernance, columns_from

OWNER = OWNERS[0]
READERS = ("role:data-scientist",)

GOVERNANCE = [
    TableGovernance(LANDING_IMAGES, owner=OWNER, classification=Classification.PUBLIC, readers=READERS),
    TableGovernance(
        TENSORS,
        model=Tensors,
        owner=OWNER,
        classification=Classification.PUBLIC,
        readers=READERS,
        lineage={
            "image_id": columns_from(LANDING_IMAGES, "path"),
            "source_file": columns_from(LANDING_IMAGES, "path"),
            "label": columns_from(LANDING_IMAGES, "path"),
            "label_name": columns_from(LANDING_IMAGES, "path"),
            "tensor": columns_from(LANDING_IMAGES, "content"),
            "split": columns_from(LANDING_IMAGES, "path"),
        },
    ),
    TableGovernance(CNN_MODEL, owner=OWNER, classification=Classification.PUBLIC, readers=READERS, is_model=True),
    TableGovernance(
        PREDICTIONS,
        model=Predictions,
        owner=OWNER,
        classification=Classification.PUBLIC,
        readers=READERS,
        lineage={
            "image_id": columns_from(TENSORS, "image_id"),
            "split": columns_from(TENSORS, "split"),
            "label": columns_from(TENSORS, "label"),
            "prediction": columns_from(TENSORS, "tensor"),
            "probability": columns_from(TENSORS, "tensor"),
        },
    ),
]
