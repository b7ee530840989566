"""The shape of universal's write plan: what keeps it fast must not go unnoticed (its speed is
measured in benchmarks/transactions; here, only the plan that gives it)."""

from datalake_platform.domains.transactions import transforms
from datalake_platform.domains.transactions.schemas import PURCHASES_TABLE_RULES, Purchases
from datalake_platform.domains.transactions.tables import LANDING_COLUMNS, LANDING_PURCHASES
from datalake_platform.ingestion.records import count_landing, read_records
from datalake_platform.quality.validation import ContractAudit
from datalake_platform_tests.conftest import land_cdnow_day

DAY = "1997-01-01"


def test_each_landing_line_is_split_into_fields_once(spark, lake, cdnow):
    """Spark's optimizer can merge the projections of the classification into one, and then split
    each line again for every field each rule reads: 21 splits a row instead of one, a write 6x
    slower at 10M rows. It happened when the amount rule's regex was swapped for a plain test."""
    land_cdnow_day(lake, cdnow, DAY)
    files = lake.list_landing_files(LANDING_PURCHASES, [DAY])
    records = read_records(
        spark, files, LANDING_COLUMNS, quoted=count_landing(spark, files).quoted, per_file=transforms.per_file()
    )
    written = ContractAudit(Purchases, PURCHASES_TABLE_RULES).watch(
        transforms.purchases(transforms.classify_purchases(records))
    )
    plan = written._jdf.queryExecution().executedPlan().toString()
    splits_on_commas = plan.count(", ,, -1)")  # split(<text>, ',', -1): each file's header, and each line
    assert splits_on_commas == 2, plan
    assert written.count() == len(cdnow[DAY])
