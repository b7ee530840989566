"""The lake's SQL interface: its Iceberg tables queried by DuckDB (`datalake sql`)."""
