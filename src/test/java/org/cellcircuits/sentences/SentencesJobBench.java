package org.cellcircuits.sentences;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;

/**
 * The sentences stage on local[2], several rounds in one JVM, so the cost of each part can be seen without JVM
 * start and with the JIT warm: the pre-pass ({@code plan}), then building every row into Spark's "noop" sink
 * (rows are made and dropped), into Parquet through Spark's writer, or into Parquet by
 * {@link SentencesJob.Plan#writeParquet} (direct). The atlas is a synthetic in-memory one (no file reading) or an
 * .h5ad. Prints wall, process CPU and task CPU per round; asserts nothing. {@code jobs/bench/sentences} is the
 * end-to-end figure; this is for finding where the time goes.
 *
 * <pre>
 * mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -Xmx4g $(the --add-opens flags of pom.xml) -cp target/classes:target/test-classes:$(cat target/cp.txt) \
 *   org.cellcircuits.sentences.SentencesJobBench CELLS|ATLAS.h5ad [noop|parquet:DIR|direct:DIR] [ROUNDS] [c2s|gene-order] [ROWS_PER_READ]
 * </pre>
 */
public final class SentencesJobBench {
  private SentencesJobBench() {
  }

  public static void main(String[] args) throws Exception {
    String atlasArg = args.length > 0 ? args[0] : "20000";
    String sink = args.length > 1 ? args[1] : "noop";
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    TieOrder ties = args.length > 3 ? TieOrder.parse(args[3]) : TieOrder.C2S;
    AtlasSource source;
    SentencesParams.Builder params = SentencesParams.builder().ties(ties);
    if (args.length > 4) {
      params.rowsPerRead(Integer.parseInt(args[4]));
    }
    if (atlasArg.matches("\\d+")) {
      InMemoryAtlas atlas = SentenceBuilderBench.syntheticAtlas(Integer.parseInt(atlasArg), 30_000, 2_000, 3);
      source = atlas.registeredSource();
      params.rowsPerPartition(2_500).donorColumn("").tissueColumn("");
    } else {
      source = new H5adSource(atlasArg, AtlasOptions.defaults());
    }
    SparkSession spark = SparkSession.builder().master("local[2]").appName("SentencesJobBench")
        .config("spark.ui.enabled", "false").getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
    // The machine is shared: executor CPU time (from Spark's task metrics) gives the comparable figure.
    AtomicLong taskCpuNanos = new AtomicLong();
    spark.sparkContext().addSparkListener(new SparkListener() {
      @Override
      public void onTaskEnd(SparkListenerTaskEnd end) {
        if (end.taskMetrics() != null) {
          taskCpuNanos.addAndGet(end.taskMetrics().executorCpuTime());
        }
      }
    });
    for (int round = 0; round < rounds; round++) {
      long t0 = System.nanoTime();
      double cpu0 = ReferenceSentencesBench.processCpu();
      SentencesJob.Plan plan = SentencesJob.plan(spark, source, params.build());
      long t1 = System.nanoTime();
      double cpu1 = ReferenceSentencesBench.processCpu();
      long task0 = taskCpuNanos.get();
      if (sink.equals("noop")) {
        plan.sentences().write().format("noop").mode("overwrite").save();
      } else if (sink.startsWith("direct:")) {
        String dir = sink.substring("direct:".length()) + "/round-" + round;
        plan.writeParquet(dir);
      } else {
        plan.sentences().write().mode("overwrite").parquet(sink.substring("parquet:".length()));
      }
      long t2 = System.nanoTime();
      double cpu2 = ReferenceSentencesBench.processCpu();
      Thread.sleep(300); // let the listener bus deliver the last task ends
      double taskCpu = (taskCpuNanos.get() - task0) / 1e9;
      long cells = plan.inputCells();
      System.out.printf(Locale.ROOT, "round %d ties=%s sink=%s cells=%d: plan %.2f s (%.2f CPU-s), build %.2f s "
              + "(%.2f CPU-s, tasks %.2f CPU-s); %.0f cells/s, %.0f cells per process CPU-s, %.0f cells per task "
              + "CPU-s; load %.2f%n", round, ties.configName(), sink, cells, (t1 - t0) / 1e9, cpu1 - cpu0,
          (t2 - t1) / 1e9, cpu2 - cpu1, taskCpu, cells / ((t2 - t0) / 1e9), cells / (cpu2 - cpu0),
          cells / taskCpu, ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }
    spark.stop();
  }
}
