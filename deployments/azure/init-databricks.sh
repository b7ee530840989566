#!/bin/bash
# Databricks init script (a workspace file: databricks-job-cluster*.json): the cluster requirements,
# uploaded beside it to /Workspace/Shared/datalake/. The runtime's Spark, pyspark and numpy
# (15.4 / 16.4 LTS: Spark 3.5; 17.3 LTS: Spark 4.0) stay its own; torch comes with the ML runtime.
set -euo pipefail
/databricks/python/bin/pip install -r /Workspace/Shared/datalake/requirements.txt
