"""The transactions table applications read online (serving): a person's report."""

from datalake_platform.domains.transactions.tables import REPORT_BY_PERSON
from datalake_platform.serving.views import OnlineView, ViewKind

REPORT = OnlineView(
    REPORT_BY_PERSON,
    ViewKind.SNAPSHOT,
    key="ID_PERSONA",
    key_pattern=r"^[A-Za-z0-9_.:-]{1,64}$",  # the shop's customer numbers; anything else is malformed
    columns=("MONTO_TRANSACCIONES", "NUM_TRANSACCIONES", "PRIMERA_COMPRA", "ULTIMA_COMPRA"),
    path="/v1/persons/{id_persona}/report",
    description="A person's purchases in total (amount as an exact decimal string), as of the report's last "
    "refresh: each refresh is loaded whole as a new version, then switched to at once.",
)

ONLINE = [REPORT]
