package org.cellcircuits.jobs;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;

/**
 * jobs/bench/s3: the sentences and harvest stages of the demo written to {@code s3a://} on the loopback S3 server
 * ({@link LoopbackS3}) against local disk, in one JVM and one Spark session, alternating rounds (each side keeps its
 * best time per stage) after an uncounted warm-up round on local disk. Each round writes to a fresh root. Prints
 * {@code RESULT s3_s=<sentences+harvest on s3a> local_s=<on disk> ratio=<s3/local> ...}.
 *
 * <p>Arguments: work folder, cells, rounds.
 */
public final class S3Benchmark {
  private S3Benchmark() {}

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]);
    int cells = Integer.parseInt(args[1]);
    int rounds = Integer.parseInt(args[2]);
    try (LoopbackS3 s3 = LoopbackS3.start(work.resolve("s3proxy"))) {
      s3.createBucket("bench");
      System.setProperty("aws.accessKeyId", s3.accessKey());
      System.setProperty("aws.secretKey", s3.secretKey());
      SparkSession.Builder builder = SparkSession.builder().master("local[2]").appName("S3Benchmark")
          .config("spark.ui.enabled", "false");
      s3.s3aSettings().forEach(builder::config);
      SparkSession spark = builder.getOrCreate();
      List<String> sets = new ArrayList<>(List.of("sentences.max-cells=" + cells));
      s3.s3aSettings().forEach((k, v) -> sets.add("run.spark.conf.\"" + k + "\"=\"" + v + "\""));
      CommandLine cli = CellCircuits.commandLine(StageRegistry.defaults(), ConfigLoader.reference(), s -> spark,
          false);
      StringWriter err = new StringWriter();
      cli.setOut(new PrintWriter(new StringWriter(), true));
      cli.setErr(new PrintWriter(err, true));
      double[][] best = {{Double.MAX_VALUE, Double.MAX_VALUE}, {Double.MAX_VALUE, Double.MAX_VALUE}}; // [s3|local][stage]
      // round -1 warms up (JIT, libtorch, the model's first load) on local disk and is not counted; then the sides
      // alternate which goes first
      for (int r = -1; r < rounds; r++) {
        for (int i = r < 0 ? 1 : 0; i < 2; i++) {
          int side = r < 0 ? 1 : (i + r) % 2;
          String root = side == 0 ? "s3a://bench/round-" + r : work.resolve("local-" + r).toString();
          String[] stages = {"sentences", "harvest"};
          for (int st = 0; st < 2; st++) {
            List<String> a = new ArrayList<>(List.of(stages[st], "--config", "conf/demo.conf", "--root", root));
            sets.forEach(s -> {
              a.add("--set");
              a.add(s);
            });
            long t0 = System.nanoTime();
            int code = cli.execute(a.toArray(new String[0]));
            double s = (System.nanoTime() - t0) / 1e9;
            if (code != 0) {
              throw new IllegalStateException(stages[st] + " on " + root + " exited " + code + ": " + err);
            }
            if (r >= 0) {
              best[side][st] = Math.min(best[side][st], s);
            }
            System.out.printf(Locale.ROOT, "round %d %s %s: %.2f s%n", r, side == 0 ? "s3a" : "local", stages[st],
                s);
          }
        }
      }
      double s3s = best[0][0] + best[0][1];
      double local = best[1][0] + best[1][1];
      System.out.printf(Locale.ROOT, "RESULT s3_s=%.2f local_s=%.2f ratio=%.3f sentences_ratio=%.3f "
          + "harvest_ratio=%.3f cells=%d%n", s3s, local, s3s / local, best[0][0] / best[1][0],
          best[0][1] / best[1][1], cells);
      spark.stop();
    }
  }
}
