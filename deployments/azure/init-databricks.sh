#!/bin/bash
# Databricks init script: the entrypoint's libraries, pinned as in pyproject.toml (torch comes with the ML runtime).
set -euo pipefail
/databricks/python/bin/pip install "dagster==1.13.27" "dagster-pipes==1.13.27" "dagster-azure==0.29.27" \
  "pandera[pyspark]==0.35.0" "adlfs>=2024.4" "azure-identity"
