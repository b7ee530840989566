"""The lake's SQL interface: every universal and smart table registered where users query it.

Each commit of a table is recorded in the lake's catalog journal (`work/catalog/journal/`) and
applied to the environment's SQL engine: a Hive metastore for local Spark SQL, the AWS Glue
Data Catalog (Athena), BigQuery external tables, Azure Synapse serverless views or Databricks SQL.
"""
