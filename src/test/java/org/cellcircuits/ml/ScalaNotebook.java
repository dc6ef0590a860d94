package org.cellcircuits.ml;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Runs a Scala notebook file (Databricks source format: {@code // COMMAND ----------} separators and
 * {@code // MAGIC} markdown are Scala comments) as {@code spark-shell -i} does: Spark's own REPL
 * ({@code org.apache.spark.repl.Main}, test dependency {@code spark-repl}) in a child JVM on the test classpath, with
 * {@code spark} a local[2] session, then {@code :quit}. The REPL reports a failed statement and goes on to the next,
 * so a run fails when its output holds a compile error or an exception, or lacks a line the caller expects.
 */
public final class ScalaNotebook {
  /** What the REPL prints for a statement that did not compile or threw. */
  private static final Pattern FAILURE = Pattern.compile(
      "(?m)^(<console>:\\d+: error:|error:|java\\.lang\\.\\w*(Exception|Error)|org\\.apache\\.spark\\.\\w*Exception"
          + "|\\w+(\\.\\w+)*Exception: )");

  private ScalaNotebook() {}

  /**
   * Runs {@code notebook} with {@code properties} as Java system properties and returns the REPL's output.
   *
   * @throws AssertionError naming the first failure and the output's file when a statement failed, the REPL did not
   *     finish within {@code timeoutSeconds}, or a line of {@code expected} is missing
   */
  public static String run(Path notebook, Map<String, String> properties, Path workDir, long timeoutSeconds,
      String... expected) throws IOException, InterruptedException {
    Files.createDirectories(workDir);
    Path log = workDir.resolve("repl-output.txt");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx3g"));
    // the test JVM's module opens (Spark on Java 17) and DJL settings, so the child runs as the tests do
    for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (arg.startsWith("--add-opens") || arg.startsWith("-Djdk.reflect") || arg.startsWith("-Dai.djl")) {
        cmd.add(arg);
      }
    }
    cmd.addAll(List.of("-Dspark.master=local[2]", "-Dspark.ui.enabled=false", "-Dspark.sql.shuffle.partitions=2",
        "-Dscala.usejavacp=true"));
    properties.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
    cmd.addAll(List.of("-cp", classpath, "org.apache.spark.repl.Main", "-i", notebook.toAbsolutePath().toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    Process p = pb.start();
    p.getOutputStream().write(":quit\n".getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      throw new AssertionError(String.format("notebook %s did not finish within %d s; its output is in %s", notebook,
          timeoutSeconds, log));
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    var failure = FAILURE.matcher(out);
    if (failure.find()) {
      int from = out.lastIndexOf('\n', Math.max(0, failure.start() - 1500));
      throw new AssertionError(String.format("notebook %s failed (exit %d); output from the first failure (all in %s):%n%s",
          notebook, p.exitValue(), log, out.substring(Math.max(0, from), Math.min(out.length(), failure.start() + 3000))));
    }
    for (String line : expected) {
      if (!out.contains(line)) {
        throw new AssertionError(String.format("notebook %s (exit %d) printed no \"%s\"; its output is in %s:%n%s",
            notebook, p.exitValue(), line, log, out.substring(Math.max(0, out.length() - 3000))));
      }
    }
    return out;
  }
}
