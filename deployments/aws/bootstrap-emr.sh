#!/bin/bash
# EMR 7.x bootstrap action. EMR's default python3 is 3.9, for which dagster 1.13 has no release:
# this installs Python 3.11 (Amazon Linux 2023's package) with the cluster requirements, and
# emr-job-flow.json points Spark's Python at it (spark-env PYSPARK_PYTHON, spark.pyspark.python).
# EMR's own Spark 3.5 and its pyspark stay the only ones: the requirements never name pyspark.
# Argument: the S3 URI of deployments/cluster/requirements.txt, uploaded beside this script.
set -euo pipefail
REQUIREMENTS_URI=${1:?usage: bootstrap-emr.sh s3://bucket/.../requirements.txt}
sudo dnf install -y python3.11 python3.11-pip
aws s3 cp "$REQUIREMENTS_URI" /tmp/datalake-requirements.txt
# numpy: EMR's python3.11 has none, and Spark 3.5's pyspark (MLlib) needs numpy 1.x.
sudo python3.11 -m pip install -r /tmp/datalake-requirements.txt "numpy>=1.26,<2"
