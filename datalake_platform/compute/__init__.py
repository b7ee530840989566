"""Where Spark runs: the cluster a session connects to, and the Pipes job that runs a table's
transformation on a cloud's managed Spark (EMR, EMR Serverless, Dataproc, Databricks)."""
