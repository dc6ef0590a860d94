package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkConf;
import org.apache.spark.deploy.SparkSubmitArguments;
import org.apache.spark.resource.ResourceRequest;
import org.apache.spark.resource.ResourceRequirement;
import org.apache.spark.resource.ResourceUtils;
import scala.Option;
import scala.collection.JavaConverters;

/**
 * spark-submit command lines read the way spark-submit reads them: by Spark's own {@link SparkSubmitArguments}
 * ({@code private[deploy]} in Scala, public in bytecode), and the resource requests the way a SparkContext reads them
 * at start-up ({@link ResourceUtils#parseAllResourceRequests}, what {@code ResourceProfile}'s default profile calls). A
 * line the parser refuses, or a resource setting SparkContext would refuse, fails here instead of on a cluster.
 */
final class SparkSubmitLines {
  private SparkSubmitLines() {}

  /** A parsed line with the Spark properties it ends up with (its own {@code --conf}s over the defaults file). */
  record Parsed(String where, SparkSubmitArguments args, Map<String, String> properties) {
    String mainClass() {
      return args.mainClass();
    }

    String primaryResource() {
      return args.primaryResource();
    }

    List<String> appArgs() {
      return new ArrayList<>(JavaConverters.seqAsJavaList(args.childArgs()));
    }

    /** Executor resources by name and amount, parsed as SparkContext parses them (it refuses a name without amount). */
    Map<String, ResourceRequest> executorResources() {
      SparkConf conf = args.toSparkConf(Option.empty());
      Map<String, ResourceRequest> out = new LinkedHashMap<>();
      try {
        for (ResourceRequest r : JavaConverters.seqAsJavaList(ResourceUtils.parseAllResourceRequests(conf,
            "spark.executor"))) {
          out.put(r.id().resourceName(), r);
        }
      } catch (Exception e) { // Scala declares no checked exceptions: Spark's SparkException arrives undeclared
        fail("%s: a SparkContext would not start with these executor resources: %s", where, e);
      }
      return out;
    }

    /** Task resources by name and amount per task. */
    Map<String, Integer> taskResources() {
      SparkConf conf = args.toSparkConf(Option.empty());
      Map<String, Integer> out = new LinkedHashMap<>();
      for (ResourceRequirement r : JavaConverters.seqAsJavaList(ResourceUtils.parseResourceRequirements(conf,
          "spark.task"))) {
        out.put(r.resourceName(), r.amount());
      }
      return out;
    }
  }

  /**
   * Parses {@code args} (what follows the {@code spark-submit} word) as spark-submit does, with {@code env} as its
   * environment: {@code SPARK_CONF_DIR} names the directory of a {@code spark-defaults.conf}, and a YARN master needs
   * {@code HADOOP_CONF_DIR} or {@code YARN_CONF_DIR}. Fails naming {@code where} when Spark refuses the line.
   */
  static Parsed parse(String where, List<String> args, Map<String, String> env) {
    SparkSubmitArguments parsed = null;
    try {
      parsed = new SparkSubmitArguments(JavaConverters.asScalaBuffer(args).toList(),
          JavaConverters.mapAsScalaMap(env).toMap(scala.Predef.$conforms()));
    } catch (Exception e) { // Scala declares no checked exceptions: Spark's SparkException arrives undeclared
      fail("%s: spark-submit refuses the line: %s%n  %s", where, e, String.join(" ", args));
    }
    return new Parsed(where, parsed, JavaConverters.mapAsJavaMap(parsed.sparkProperties()));
  }

  /** The {@code --conf} pairs written on a line before its primary resource, in order. */
  static List<String> confs(List<String> args, int appArgCount) {
    List<String> out = new ArrayList<>();
    List<String> options = args.subList(0, args.size() - appArgCount - 1);
    for (int i = 0; i < options.size(); i++) {
      if (options.get(i).equals("--conf")) {
        out.add(options.get(i + 1));
      } else if (options.get(i).startsWith("--conf=")) {
        out.add(options.get(i).substring("--conf=".length()));
      }
    }
    return out;
  }

  /** The words bash makes of {@code line}: the way Airflow's BashOperator and a terminal run a command line. */
  static List<String> shellWords(String line) throws IOException, InterruptedException {
    String out = run(List.of("bash", "-c", "eval \"words=($1)\" && printf '%s\\0' \"${words[@]}\"", "bash", line),
        Map.of(), null);
    List<String> words = new ArrayList<>(List.of(out.split("\0", -1)));
    words.remove(words.size() - 1);
    return words;
  }

  /** Runs a command and returns its standard output; fails with its output when it exits non-zero. */
  static String run(List<String> command, Map<String, String> env, Path dir) throws IOException,
      InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().putAll(env);
    if (dir != null) {
      pb.directory(dir.toFile());
    }
    pb.redirectError(ProcessBuilder.Redirect.PIPE);
    Process p = pb.start();
    byte[] stdout = p.getInputStream().readAllBytes();
    String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("%s finished", command.get(0)).isTrue();
    assertThat(p.exitValue()).as("exit status of %s; stderr:%n%s", command, stderr).isZero();
    return new String(stdout, StandardCharsets.UTF_8);
  }

  /**
   * The Python 3 command ({@code $PYTHON3}, default {@code python3}). Without one a test is skipped, except on CI
   * ({@code CI=true}), where .ci/run installs it and a skip would hide that the DAG was never read.
   */
  static String python3() {
    String python = System.getenv().getOrDefault("PYTHON3", "python3");
    try {
      Process p = new ProcessBuilder(python, "-c", "import sys; assert sys.version_info >= (3, 8)")
          .redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
        return python;
      }
    } catch (IOException e) {
      // not installed: handled below
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    String message = python + " (Python >= 3.8, or $PYTHON3) is not there; the Airflow DAG is read with Python's ast";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(message + ". On CI it is required: .ci/run installs Debian's python3 when it is missing.");
    }
    assumeTrue(false, message);
    return null;
  }
}
