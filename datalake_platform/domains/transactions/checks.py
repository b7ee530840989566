"""The blocking checks of the transactions tables."""

from datalake_platform.domains.transactions.schemas import (
    PURCHASES_TABLE_RULES,
    REPORT_TABLE_RULES,
    DailySales,
    Purchases,
    ReportByPerson,
)
from datalake_platform.domains.transactions.tables import (
    DAILY_SALES,
    LANDING_PURCHASES,
    PURCHASES,
    REPORT_BY_PERSON,
    daily_partitions,
)
from datalake_platform.quality.checks import conservation_check, contract_check

checks = [
    contract_check(PURCHASES, Purchases, daily_partitions, PURCHASES_TABLE_RULES),
    conservation_check(LANDING_PURCHASES, PURCHASES),
    contract_check(DAILY_SALES, DailySales, daily_partitions),
    contract_check(REPORT_BY_PERSON, ReportByPerson, table_rules=REPORT_TABLE_RULES),
]
