"""Airflow DAG: one task per cellcircuits stage, in pipeline order, on an existing Spark cluster.

Each task is `spark-submit <jar> <stage> --config <conf> --root <run root>`. Stages are idempotent: a task whose
stage is already committed with the same config and inputs exits 0 at once, so retries and backfills are safe. A
stage that fails leaves nothing a reader sees; Airflow's retry reruns it cleanly. One DAG run per run root at a
time (max_active_runs=1): two writers of the same stage on one root would delete each other's attempts.

Exit codes: 0 done or skipped, 1 failed or refused (config changed: rerun with --overwrite on purpose), 2 usage.
Set the Airflow Variables below (or edit the defaults). Stages not built yet exit 2 with "not implemented yet".
"""
from datetime import datetime

from airflow import DAG
from airflow.models import Variable
from airflow.operators.bash import BashOperator

JAR = Variable.get("cellcircuits_jar", "s3://my-bucket/jars/cellcircuits-0.1.0-SNAPSHOT-spark.jar")
CONF = Variable.get("cellcircuits_conf", "s3://my-bucket/conf/heart.conf")
ROOT = Variable.get("cellcircuits_root", "s3a://my-bucket/cellcircuits/heart-v2")
SPARK_SUBMIT = Variable.get("cellcircuits_spark_submit", "spark-submit --master yarn --deploy-mode cluster")
OPENS = " ".join(f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in [
    "java.lang", "java.lang.invoke", "java.lang.reflect", "java.io", "java.net", "java.nio", "java.util",
    "java.util.concurrent", "java.util.concurrent.atomic", "jdk.internal.ref", "sun.nio.ch", "sun.nio.cs",
    "sun.security.action", "sun.util.calendar"]) + " -Djdk.reflect.useDirectMethodHandle=false -Dai.djl.offline=true"
STAGES = ["sentences", "harvest", "train", "evaluate", "circuits", "interpret"]

with DAG(
    dag_id="cellcircuits",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2},
    doc_md=__doc__,
) as dag:
    previous = None
    for stage in STAGES:
        task = BashOperator(
            task_id=stage,
            bash_command=(
                f"{SPARK_SUBMIT} --conf 'spark.driver.extraJavaOptions={OPENS}' "
                f"--conf 'spark.executor.extraJavaOptions={OPENS}' --files {CONF} "
                f"--class org.cellcircuits.jobs.CellCircuits {JAR} {stage} "
                f"--config {CONF.rsplit('/', 1)[-1]} --root {ROOT}"
            ),
        )
        if previous is not None:
            previous >> task
        previous = task
