"""Airflow DAG: one task per cellcircuits stage, wired by what each stage reads, on an existing Spark cluster.

Each task is `spark-submit <jar> <stage> --config <conf> --root <run root>`. The run root is a DAG parameter
(`root`, default the `cellcircuits_root` Variable): trigger with `{"root": "s3a://bucket/prefix"}` to run elsewhere.
Stages are idempotent: a task whose stage is already committed with the same config and inputs exits 0 at once, so
retries and backfills are safe. A stage that fails leaves nothing a reader sees; Airflow's retry reruns it cleanly
(train resumes from its last checkpoint). One DAG run at a time (max_active_runs=1): two runs on one root would find
each other's stage lease and refuse.

Exit codes: 0 done or skipped, 1 failed or refused (config changed: rerun with --overwrite on purpose), 2 usage.
Set the Airflow Variables below (or edit the defaults). Credentials for s3a:// come from the cluster's instance profile
(the standard AWS provider chain), never from here. tests: DeployDefinitionsTest reads this file with Python's ast
module (src/test/python/airflow_dag_tasks.py; no Airflow in the build): the tasks and edges must be the stages of
StageRegistry.defaults() and their upstream() stages, and each command must be what jobs/spark-submit.sh builds for
the stage, as Spark's own spark-submit parser reads both.
"""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.models import Variable
from airflow.models.param import Param
from airflow.operators.bash import BashOperator

JAR = Variable.get("cellcircuits_jar", "s3://my-bucket/jars/cellcircuits-0.1.0-SNAPSHOT-spark.jar")
GPU_JAR = Variable.get("cellcircuits_gpu_jar", "s3://my-bucket/jars/cellcircuits-0.1.0-SNAPSHOT-gpu-spark.jar")
CONF = Variable.get("cellcircuits_conf", "s3://my-bucket/conf/heart.conf")
ROOT = Variable.get("cellcircuits_root", "s3a://my-bucket/cellcircuits/heart-v2")
SPARK_SUBMIT = Variable.get("cellcircuits_spark_submit", "spark-submit --master yarn --deploy-mode cluster")
MAIN_CLASS = "org.cellcircuits.jobs.CellCircuits"
# Spark 3.5 on Java 17: the pom's spark.java17.opens, verbatim.
JAVA17_OPENS = (
    "--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED "
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED "
    "--add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED "
    "--add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED "
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED "
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED "
    "--add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED "
    "-Djdk.reflect.useDirectMethodHandle=false"
)
# What jobs/spark-submit.sh gives driver and executors (MetaspaceSize: loading Spark's classes set off full
# collections at the 21 MB default).
JAVA_OPTS = JAVA17_OPENS + " -XX:MetaspaceSize=256m -Dai.djl.offline=true"
# Each stage and the stages it reads (Stage.upstream()); a task starts when those are committed.
UPSTREAM = {
    "sentences": [],
    "harvest": ["sentences"],
    "train": ["harvest"],
    "evaluate": ["sentences", "train"],
    "circuits": ["sentences", "harvest", "train"],
    "interpret": ["sentences", "harvest", "train", "circuits"],
}
# Stages that run the model or the transcoders: one GPU per executor and per task (deploy/GPU.md).
GPU_STAGES = {"harvest", "train", "evaluate", "circuits", "interpret"}
GPU_CONF = "--conf spark.executor.resource.gpu.amount=1 --conf spark.task.resource.gpu.amount=1 "

with DAG(
    dag_id="cellcircuits",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    max_active_runs=1,
    params={"root": Param(ROOT, type="string", description="run root: a local path or s3a://bucket/prefix")},
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    doc_md=__doc__,
) as dag:
    tasks = {}
    for stage, upstream in UPSTREAM.items():
        gpu = stage in GPU_STAGES
        tasks[stage] = BashOperator(
            task_id=stage,
            bash_command=(
                f"{SPARK_SUBMIT} --conf 'spark.driver.extraJavaOptions={JAVA_OPTS}' "
                f"--conf 'spark.executor.extraJavaOptions={JAVA_OPTS}' {GPU_CONF if gpu else ''}--files {CONF} "
                f"--class {MAIN_CLASS} {GPU_JAR if gpu else JAR} {stage} "
                f"--config {CONF.rsplit('/', 1)[-1]} --root '{{{{ params.root }}}}'"
                + (" --set model.device=auto" if gpu else "")
            ),
        )
        for up in upstream:
            tasks[up] >> tasks[stage]
