"""Governance of the transactions tables: CDNOW's purchase log. A customer is a number the shop
issued (`ID_PERSONA`): personal data, kept in clear because the report is keyed by it and the
shop's own systems join on it; no name, address or payment detail ever lands."""

from datetime import timedelta

from datalake_platform.domains.transactions.enrichment_assets import PURCHASE_FEATURES
from datalake_platform.domains.transactions.schemas import DailySales, PurchaseFeatures, Purchases, ReportByPerson
from datalake_platform.domains.transactions.tables import (
    DAILY_SALES,
    LANDING_PURCHASES,
    OWNERS,
    PURCHASES,
    REPORT_BY_PERSON,
)
from datalake_platform.governance.spec import (
    Classification,
    Pii,
    PiiCategory,
    TableGovernance,
    Treatment,
    columns_from,
    same_columns,
)

OWNER = OWNERS[0]
CUSTOMER = PiiCategory.CUSTOMER_ID
CUSTOMER_KEPT = (
    "the shop's own customer number, no name behind it in the lake; reports and the serving API are keyed by it"
)
DAILY = timedelta(days=1, hours=2)  # a day's file lands every day; two hours of grace
ANALYSTS = ("role:analyst", "role:finance")

GOVERNANCE = [
    TableGovernance(
        LANDING_PURCHASES,
        owner=OWNER,
        classification=Classification.CONFIDENTIAL,
        readers=("role:data-platform",),
        retention_days=None,  # the log is the shop's record of sales (a legal hold); landing keeps it whole
        pii={"customer_id": Pii(CUSTOMER, Treatment.RAW)},
    ),
    TableGovernance(
        PURCHASES,
        model=Purchases,
        owner=OWNER,
        classification=Classification.CONFIDENTIAL,
        readers=ANALYSTS,
        retention_days=None,  # accounting records: kept, the reports are recomputed from them
        quarantine_retention_days=90,
        freshness=DAILY,
        pii={"ID_PERSONA": Pii(CUSTOMER, Treatment.KEPT, source="customer_id", reason=CUSTOMER_KEPT)},
        lineage={
            "ID_TRANSACCION": columns_from(LANDING_PURCHASES, "date"),
            "ID_PERSONA": columns_from(LANDING_PURCHASES, "customer_id"),
            "FECHA": columns_from(LANDING_PURCHASES, "date"),
            "CANTIDAD": columns_from(LANDING_PURCHASES, "number_of_cds"),
            "MONTO": columns_from(LANDING_PURCHASES, "dollar_value"),
        },
    ),
    TableGovernance(
        REPORT_BY_PERSON,
        model=ReportByPerson,
        owner=OWNER,
        classification=Classification.CONFIDENTIAL,
        readers=(*ANALYSTS, "role:serving-api"),
        freshness=DAILY,
        pii={"ID_PERSONA": Pii(CUSTOMER, Treatment.KEPT, source="customer_id", reason=CUSTOMER_KEPT)},
        lineage={
            **same_columns(PURCHASES, "ID_PERSONA"),
            "MONTO_TRANSACCIONES": columns_from(PURCHASES, "MONTO"),
            "NUM_TRANSACCIONES": columns_from(PURCHASES, "ID_TRANSACCION"),
            "PRIMERA_COMPRA": columns_from(PURCHASES, "FECHA"),
            "ULTIMA_COMPRA": columns_from(PURCHASES, "FECHA"),
        },
    ),
    TableGovernance(
        DAILY_SALES,
        model=DailySales,
        owner=OWNER,
        classification=Classification.INTERNAL,
        readers=(*ANALYSTS, "role:management"),
        freshness=DAILY,
        lineage={
            "NUM_TRANSACCIONES": columns_from(PURCHASES, "ID_TRANSACCION"),
            "NUM_PERSONAS": columns_from(PURCHASES, "ID_PERSONA"),
            "CANTIDAD_TOTAL": columns_from(PURCHASES, "CANTIDAD"),
            "MONTO_TOTAL": columns_from(PURCHASES, "MONTO"),
        },
    ),
    TableGovernance(
        PURCHASE_FEATURES,
        model=PurchaseFeatures,
        owner=OWNER,
        classification=Classification.CONFIDENTIAL,
        readers=("role:data-scientist",),
        pii={"ID_PERSONA": Pii(CUSTOMER, Treatment.KEPT, source="customer_id", reason=CUSTOMER_KEPT)},
        lineage={
            **same_columns(PURCHASES, "ID_TRANSACCION", "ID_PERSONA", "FECHA"),
            "features": columns_from(PURCHASES, "CANTIDAD", "MONTO", "FECHA"),
        },
    ),
]
