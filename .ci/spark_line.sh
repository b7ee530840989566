#!/usr/bin/env bash
# One more Spark line the clouds run (3.5: EMR 7, Dataproc 2.2, Databricks 15.4/16.4; 4.0: Dataproc
# Serverless 3.0, Databricks 17.3): its own virtual environment, installed as README says, then the
# whole demo lake (its report_by_person must equal the default line's to the cent) and the tests
# that exercise Spark code. Usage: .ci/spark_line.sh 3.5 [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
LINE=$1; shift
VENV=.venv-spark$LINE
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/datalake" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -e '.[dev]' "pyspark==$LINE.*"
  touch "$VENV/.installed"
fi
"$VENV/bin/python" -c "import pyspark; print('Spark line', pyspark.__version__)"
export DATALAKE_ROOT="$PWD/lake-spark$LINE" DAGSTER_HOME="$PWD/.dagster-spark$LINE"
rm -rf "$DATALAKE_ROOT" "$DAGSTER_HOME"
"$VENV/bin/datalake" demo
"$VENV/bin/python" .ci/same_report.py "$PWD/lake" "$DATALAKE_ROOT"
unset DATALAKE_ROOT DAGSTER_HOME
T=datalake_platform_tests
exec "$VENV/bin/pytest" "$@" \
  $T/compat $T/spark/test_checkpoints.py $T/quality \
  $T/ingestion/test_bad_input.py $T/ingestion/test_records.py \
  $T/domains/transactions/test_assets.py $T/domains/transactions/test_plan.py \
  $T/domains/posts/test_posts.py $T/domains/passengers $T/domains/images \
  "$T/compute/test_pipes_spark_submit.py::test_a_remote_materialization_reports_what_a_local_one_does[s3]" \
  $T/compute/test_pipes_spark_submit.py::test_a_remote_job_that_breaks_the_contract_fails_the_step_and_publishes_nothing \
  $T/compute/test_pipes_spark_submit.py::test_a_posts_table_runs_under_spark_submit_as_it_runs_locally
