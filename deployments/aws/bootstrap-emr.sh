#!/bin/bash
# EMR bootstrap: the entrypoint's third-party libraries, pinned as in pyproject.toml (the platform
# itself is not installed: each job ships its own content-named zip with --py-files).
set -euo pipefail
sudo python3 -m pip install "dagster==1.13.27" "dagster-pipes==1.13.27" "dagster-aws==0.29.27" \
  "pandera[pyspark]==0.35.0" "pyarrow>=18" "pandas>=2.2,<3" "s3fs>=2024.6"
