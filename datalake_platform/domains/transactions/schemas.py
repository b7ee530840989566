"""The contracts of the transactions tables: pandera models, with the Spark schema derived from them."""

import pandera.pyspark as pa
import pyspark.sql.types as T

from datalake_platform.quality.validation import MOSTLY_DISTINCT, SEQUENCED_KEY

MONEY = T.DecimalType(12, 2)
TRANSACTION_ID = r"^[0-9]{8}-[0-9a-f]{12}-[0-9]+$"  # landing day, file key, line number
# No whitespace anywhere. `(?![\s\S])` is the very end: `$` would also match before a final line
# break (in Java, whose regexes check Spark tables, and in Python), letting "00001\r" through.
PERSON_ID = r"^\S+(?![\s\S])"
RESCUED_DATA = "_rescued_data"  # as Databricks Auto Loader names it


class Purchases(pa.DataFrameModel):
    """universal/transactions/purchases: one row per purchase line of the CDNOW log."""

    ID_TRANSACCION: T.StringType() = pa.Field(
        str_matches=TRANSACTION_ID,
        description="where the line landed: YYYYMMDD-<12 hex of sha256 of the file's path>-<line number>",
        metadata=SEQUENCED_KEY,
    )
    ID_PERSONA: T.StringType() = pa.Field(
        str_matches=PERSON_ID,
        description="customer id, leading zeros kept",
        metadata=MOSTLY_DISTINCT,  # within a day
    )
    FECHA: T.DateType() = pa.Field(description="purchase date")
    CANTIDAD: T.IntegerType() = pa.Field(ge=1, description="number of CDs")
    MONTO: MONEY = pa.Field(ge=0, description="amount in dollars", metadata=MOSTLY_DISTINCT)
    rescued_data: T.StringType() = pa.Field(
        alias=RESCUED_DATA, nullable=True, description="JSON of the values of landing columns the table does not know"
    )
    dt: T.DateType() = pa.Field(description="partition: the landing day")

    class Config:
        name = "universal/transactions/purchases"
        unique = ["ID_TRANSACCION"]


# Rules pandera's pyspark models cannot state (Spark SQL, rows must satisfy them):
# a purchase lives in its own day's partition.
PURCHASES_TABLE_RULES = {"FECHA:equals_dt": "FECHA = dt"}


class ReportByPerson(pa.DataFrameModel):
    """smart/transactions/report_by_person: the reference architecture's amount per person."""

    ID_PERSONA: T.StringType() = pa.Field(str_matches=PERSON_ID)
    MONTO_TRANSACCIONES: T.DecimalType(22, 2) = pa.Field(ge=0, description="SUM(MONTO)", metadata=MOSTLY_DISTINCT)
    NUM_TRANSACCIONES: T.LongType() = pa.Field(ge=1, description="purchase count")
    PRIMERA_COMPRA: T.DateType() = pa.Field(description="first purchase date")
    ULTIMA_COMPRA: T.DateType() = pa.Field(description="last purchase date")

    class Config:
        name = "smart/transactions/report_by_person"
        unique = ["ID_PERSONA"]


REPORT_TABLE_RULES = {"PRIMERA_COMPRA:not_after_ULTIMA_COMPRA": "PRIMERA_COMPRA <= ULTIMA_COMPRA"}


class DailySales(pa.DataFrameModel):
    """smart/transactions/daily_sales: totals per day."""

    NUM_TRANSACCIONES: T.LongType() = pa.Field(ge=0)
    NUM_PERSONAS: T.LongType() = pa.Field(ge=0)
    CANTIDAD_TOTAL: T.LongType() = pa.Field(ge=0)
    MONTO_TOTAL: T.DecimalType(22, 2) = pa.Field(ge=0)
    dt: T.DateType() = pa.Field()

    class Config:
        name = "smart/transactions/daily_sales"
        unique = ["dt"]


class PurchaseFeatures(pa.DataFrameModel):
    """smart/transactions/purchase_features: the checkpointed enrichment pipeline's output, one row per purchase."""

    ID_TRANSACCION: T.StringType() = pa.Field(str_matches=TRANSACTION_ID, metadata=SEQUENCED_KEY)
    ID_PERSONA: T.StringType() = pa.Field(str_matches=PERSON_ID)
    FECHA: T.DateType() = pa.Field()
    features: T.ArrayType(T.DoubleType()) = pa.Field(description="f1..f34 of transactions.enrichment, in order")

    class Config:
        name = "smart/transactions/purchase_features"
        unique = ["ID_TRANSACCION"]
