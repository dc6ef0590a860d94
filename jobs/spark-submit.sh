#!/usr/bin/env bash
# cellcircuits through spark-submit (YARN/EMR, Kubernetes, standalone, or local) with the shaded application jar.
#
# Usage: jobs/spark-submit.sh [spark-submit options --] <subcommand> [cellcircuits options]
#   jobs/spark-submit.sh --master yarn --deploy-mode client --num-executors 8 -- run --config conf/heart.conf \
#       --root s3a://bucket/runs/heart
#   jobs/spark-submit.sh run --plan --config conf/demo.conf       (no "--": every argument goes to cellcircuits)
# Arguments before "--" go to spark-submit, the rest to cellcircuits. The jar target/cellcircuits-*-spark.jar is built
# with `mvn -DskipTests package` when missing; Spark, Hadoop and hadoop-aws are not in it (the cluster provides them).
# spark-submit's --master wins over cellcircuits.run.spark.master.
#
# Environment:
#   SPARK_HOME            where spark-submit is found (else from PATH); Spark 3.5 built for Scala 2.12
#   SPARK_SUBMIT          the spark-submit command itself, overriding SPARK_HOME/PATH
#   CELLCIRCUITS_JAVA_OPTS  extra JVM options for driver and executors (they replace any extraJavaOptions you pass)
#   CELLCIRCUITS_JAR      the application jar to submit, a path or a URL (s3://bucket/cellcircuits-…-spark.jar for
#                         --deploy-mode cluster); default target/cellcircuits-*-spark.jar, built when missing
#   DRY_RUN=1             print the command instead of running it (one line, quoted for bash)
#   MVN                   Maven command (default: mvn)
set -euo pipefail

project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

submit_args=()
app_args=("$@")
for ((i = 0; i < $#; i++)); do
  if [[ "${app_args[$i]}" == "--" ]]; then
    submit_args=("${app_args[@]:0:$i}")
    app_args=("${app_args[@]:$((i + 1))}")
    break
  fi
done

if [[ -n "${CELLCIRCUITS_JAR:-}" ]]; then
  jars=("$CELLCIRCUITS_JAR")
else
  shopt -s nullglob
  jars=("$project"/target/cellcircuits-*-spark.jar)
  if (( ${#jars[@]} == 0 )); then
    echo "spark-submit.sh: building the application jar (mvn -DskipTests package) ..." >&2
    "${MVN:-mvn}" -q -B -Dstyle.color=never -f "$project/pom.xml" -DskipTests package >&2
    jars=("$project"/target/cellcircuits-*-spark.jar)
  fi
  if (( ${#jars[@]} != 1 )); then
    echo "spark-submit.sh: expected one target/cellcircuits-*-spark.jar, found ${#jars[@]}: ${jars[*]:-none}" >&2
    exit 1
  fi
fi

# Spark on Java 17 needs these --add-opens; the pom's spark.java17.opens property is the one list.
opens="$(sed -n 's:.*<spark.java17.opens>\(.*\)</spark.java17.opens>.*:\1:p' "$project/pom.xml")"
if [[ -z "$opens" ]]; then
  echo "spark-submit.sh: cannot read the spark.java17.opens property from $project/pom.xml" >&2
  exit 1
fi
# MetaspaceSize: the first class-metadata threshold; at its 21 MB default, loading Spark's classes alone set off full
# collections (see jobs/cellcircuits-local).
java_opts="$opens -XX:MetaspaceSize=256m -Dai.djl.offline=true${CELLCIRCUITS_JAVA_OPTS:+ $CELLCIRCUITS_JAVA_OPTS}"

if [[ -n "${SPARK_SUBMIT:-}" ]]; then
  read -r -a submit <<< "$SPARK_SUBMIT"
elif [[ -n "${SPARK_HOME:-}" ]]; then
  submit=("$SPARK_HOME/bin/spark-submit")
elif command -v spark-submit > /dev/null || [[ "${DRY_RUN:-}" == "1" ]]; then
  submit=(spark-submit)
else
  echo "spark-submit.sh: spark-submit not found; install Spark 3.5 (Scala 2.12) and set SPARK_HOME, or use" \
    "jobs/cellcircuits-local" >&2
  exit 1
fi

command=("${submit[@]}"
  --class org.cellcircuits.jobs.CellCircuits
  --conf "spark.driver.extraJavaOptions=$java_opts"
  --conf "spark.executor.extraJavaOptions=$java_opts"
  "${submit_args[@]}"
  "${jars[0]}"
  "${app_args[@]}")

if [[ "${DRY_RUN:-}" == "1" ]]; then
  printf '%q ' "${command[@]}"
  echo
  exit 0
fi
exec "${command[@]}"
