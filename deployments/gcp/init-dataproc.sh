#!/bin/bash
# Dataproc 2.2 initialization action (dataproc-cluster.yaml): the cluster requirements into the
# image's Python 3.11 (conda), from the URI in the cluster's metadata `datalake-requirements`.
# Dataproc's own Spark 3.5, pyspark and numpy stay the only ones.
set -euo pipefail
URI=$(/usr/share/google/get_metadata_value attributes/datalake-requirements)
gsutil cp "$URI" /tmp/datalake-requirements.txt
/opt/conda/default/bin/pip install -r /tmp/datalake-requirements.txt
