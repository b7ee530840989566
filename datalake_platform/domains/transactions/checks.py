"""The blocking checks of the transactions tables.

Each table's contract is checked by the asset that writes it, before publishing (see
`quality.checks.Contract`); nothing lost is a check of its own on universal purchases.
"""

from datalake_platform.domains.transactions.schemas import (
    PURCHASES_TABLE_RULES,
    REPORT_TABLE_RULES,
    DailySales,
    Purchases,
    ReportByPerson,
)
from datalake_platform.domains.transactions.tables import DAILY_SALES, LANDING_PURCHASES, PURCHASES, REPORT_BY_PERSON
from datalake_platform.quality.checks import Contract, NothingLost

PURCHASES_CONTRACT = Contract(PURCHASES, Purchases, PURCHASES_TABLE_RULES)
DAILY_SALES_CONTRACT = Contract(DAILY_SALES, DailySales)
REPORT_CONTRACT = Contract(REPORT_BY_PERSON, ReportByPerson, REPORT_TABLE_RULES, partitioned=False)

PURCHASES_NOTHING_LOST = NothingLost(LANDING_PURCHASES, PURCHASES)  # records per day, delimited or JSON lines

checks = [PURCHASES_NOTHING_LOST.definition()]
