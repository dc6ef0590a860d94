package org.cellcircuits.sentences;

import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;

/**
 * The sentences stage on local[2] over an in-memory synthetic atlas (no file reading, no Parquet writing:
 * Spark's "noop" sink still materialises every row): what the stage itself costs, pre-pass included. Prints
 * figures, asserts nothing.
 *
 * <pre>
 * mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * java -Xmx6g $(the --add-opens flags of pom.xml) -cp target/classes:target/test-classes:$(cat target/cp.txt) \
 *   org.cellcircuits.sentences.SentencesStageBench [cells]
 * </pre>
 */
public final class SentencesStageBench {
  public static void main(String[] args) throws InterruptedException {
    int cells = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    InMemoryAtlas atlas = SentenceBuilderBench.syntheticAtlas(cells, 30_000, 2_000, 3);
    SparkSession spark = SparkSession.builder().master("local[2]").appName("SentencesStageBench")
        .config("spark.ui.enabled", "false").getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
    // The machine is shared: executor CPU time (from Spark's task metrics) gives the comparable figure.
    AtomicLong cpuNanos = new AtomicLong();
    spark.sparkContext().addSparkListener(new SparkListener() {
      @Override
      public void onTaskEnd(SparkListenerTaskEnd end) {
        if (end.taskMetrics() != null) {
          cpuNanos.addAndGet(end.taskMetrics().executorCpuTime());
        }
      }
    });
    for (TieOrder ties : TieOrder.values()) {
      for (int round = 0; round < 3; round++) {
        SentencesParams params = SentencesParams.builder().ties(ties).rowsPerPartition(2_500)
            .donorColumn("").tissueColumn("").build();
        long t0 = System.nanoTime();
        SentencesStage.Plan plan = SentencesStage.plan(spark, atlas.registeredSource(), params);
        long t1 = System.nanoTime();
        long cpu0 = cpuNanos.get();
        plan.sentences().write().format("noop").mode("overwrite").save();
        long t2 = System.nanoTime();
        Thread.sleep(200); // let the listener bus deliver the last task ends
        double taskCpu = (cpuNanos.get() - cpu0) / 1e9;
        System.out.printf("ties=%s cells=%d: plan (pre-pass) %.2f s, build %.2f s wall, %.0f cells/s end to end "
            + "on local[2]; build tasks %.2f CPU-s = %.0f cells per CPU-second (%d draws walked)%n",
            ties.configName(), cells, (t1 - t0) / 1e9, (t2 - t1) / 1e9, cells / ((t2 - t0) / 1e9), taskCpu,
            cells / taskCpu, plan.tieBreakDraws());
      }
    }
    spark.stop();
  }
}
