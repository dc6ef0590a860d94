package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.junit.jupiter.api.Test;

class ProgressTest {
  private static final long SECOND = 1_000_000_000L;

  @Test
  void lineShowsDoneTotalPercentRateAndEta() {
    // 250 of 1000 in 10 s: 25/s, 750 left -> 30 s.
    assertThat(Progress.line("sentences", "cells", 250, 1000, 10 * SECOND))
        .isEqualTo("sentences: 250 / 1,000 cells (25.0%), 25 cells/s, ETA 0:00:30");
    // 12,345 in 2.7 s = 4,572.2/s; 87,655 left / 4,572.2 = 19.17 s -> 19 s.
    assertThat(Progress.line("sentences", "cells", 12_345, 100_000, 2_700_000_000L))
        .isEqualTo("sentences: 12,345 / 100,000 cells (12.3%), 4,572 cells/s, ETA 0:00:19");
    // 1/s with 7,200 left: two hours.
    assertThat(Progress.line("harvest", "batches", 1, 7_201, SECOND))
        .isEqualTo("harvest: 1 / 7,201 batches (0.0%), 1.0 batches/s, ETA 2:00:00");
  }

  @Test
  void etaIsUnknownBeforeAnythingIsDoneAndZeroWhenAllIs() {
    assertThat(Progress.line("s", "cells", 0, 10, 0)).isEqualTo("s: 0 / 10 cells (0.0%), 0.0 cells/s, ETA ?");
    assertThat(Progress.line("s", "cells", 0, 10, 5 * SECOND)).endsWith("0.0 cells/s, ETA ?");
    assertThat(Progress.line("s", "cells", 10, 10, 4 * SECOND)).isEqualTo("s: 10 / 10 cells (100.0%), 2.5 cells/s, ETA 0:00:00");
  }

  @Test
  void withoutATotalThereIsNoPercentOrEta() {
    assertThat(Progress.line("harvest", "tokens", 5_000, 0, 10 * SECOND)).isEqualTo("harvest: 5,000 tokens, 500 tokens/s");
  }

  @Test
  void durationsAndRatesFormatAtTheirEdges() {
    assertThat(Progress.duration(0)).isEqualTo("0:00:00");
    assertThat(Progress.duration(59)).isEqualTo("0:00:59");
    assertThat(Progress.duration(3_600 + 61)).isEqualTo("1:01:01");
    assertThat(Progress.duration(100 * 3_600 + 1)).isEqualTo("100:00:01");
    assertThat(Progress.rate(9.96)).isEqualTo("10.0");
    assertThat(Progress.rate(10.4)).isEqualTo("10");
    assertThat(Progress.rate(1_234_567.5)).isEqualTo("1,234,568");
  }

  @Test
  void reportsReadTheCountAndTheClockAtEachCall() {
    AtomicLong clock = new AtomicLong(42 * SECOND);
    AtomicLong done = new AtomicLong();
    List<String> log = new ArrayList<>();
    try (Progress p = Progress.manual("sentences", "cells", 1_000, done::get, clock::get, log::add)) {
      p.report();
      clock.addAndGet(4 * SECOND);
      done.set(100);
      p.report();
      clock.addAndGet(6 * SECOND);
      done.set(1_000);
    }
    assertThat(log).containsExactly(
        "sentences: 0 / 1,000 cells (0.0%), 0.0 cells/s, ETA ?",
        "sentences: 100 / 1,000 cells (10.0%), 25 cells/s, ETA 0:00:36",
        "sentences: finished 1,000 cells in 0:00:10, 100 cells/s");
  }

  @Test
  void executorsCountThroughTheAccumulatorAndTheDescriptionIsRestored() {
    SparkSession spark = SparkSession.builder().master("local[2]").appName("ProgressTest")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      spark.sparkContext().setJobDescription("before");
      String during;
      String line;
      try (Progress p = Progress.start(spark, "sentences", "cells", 5_000, Duration.ofHours(1))) {
        LongAccumulator counter = p.counter();
        during = spark.sparkContext().getLocalProperty("spark.job.description");
        long n = spark.range(0, 5_000, 1, 5).map(
            (org.apache.spark.api.java.function.MapFunction<Long, Long>) x -> {
              counter.add(1);
              return x;
            }, Encoders.LONG()).count();
        assertThat(n).isEqualTo(5_000);
        line = p.report();
        assertThat(counter.name().get()).isEqualTo("sentences: cells done");
        p.refreshJobDescription();
        assertThat(spark.sparkContext().getLocalProperty("spark.job.description"))
            .startsWith("sentences: 5,000 / 5,000 cells (100.0%), ");
      }
      assertThat(during).isEqualTo("sentences: 5,000 cells");
      assertThat(line).startsWith("sentences: 5,000 / 5,000 cells (100.0%), ").endsWith("ETA 0:00:00");
      assertThat(spark.sparkContext().getLocalProperty("spark.job.description")).isEqualTo("before");
    } finally {
      spark.stop();
    }
  }

  private static final java.util.concurrent.CountDownLatch RELEASE = new java.util.concurrent.CountDownLatch(1);

  @Test
  void aLongRunningTaskMovesTheCountWithEachHeartbeat() throws Exception {
    // one task does all the work, as one layer's training does; heartbeats every 200 ms instead of 10 s
    SparkSession spark = SparkSession.builder().master("local[2]").appName("ProgressHeartbeatTest")
        .config("spark.ui.enabled", "false").config("spark.executor.heartbeatInterval", "200ms").getOrCreate();
    try (Progress p = Progress.start(spark, "train", "steps", 1_000, Duration.ofHours(1))) {
      LongAccumulator counter = p.counter();
      java.util.concurrent.CompletableFuture<Long> job = java.util.concurrent.CompletableFuture.supplyAsync(
          () -> spark.range(0, 1, 1, 1).map((org.apache.spark.api.java.function.MapFunction<Long, Long>) x -> {
            counter.add(300);
            RELEASE.await(60, java.util.concurrent.TimeUnit.SECONDS);
            return x;
          }, Encoders.LONG()).count());
      String seen = p.report();
      long deadline = System.nanoTime() + 30 * SECOND;
      while (!seen.startsWith("train: 300 / 1,000 steps") && System.nanoTime() < deadline) {
        Thread.sleep(50);
        seen = p.report();
      }
      assertThat(job).as("the task is still running").isNotDone();
      assertThat(counter.value()).as("the driver's accumulator has nothing before the task ends").isZero();
      assertThat(seen).startsWith("train: 300 / 1,000 steps (30.0%)");
      RELEASE.countDown();
      assertThat(job.get(60, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(1);
      assertThat(counter.value()).isEqualTo(300);
      // the finished task's value is in the accumulator and no longer counted as running
      deadline = System.nanoTime() + 30 * SECOND;
      while (!p.report().startsWith("train: 300 / 1,000 steps") && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertThat(p.report()).startsWith("train: 300 / 1,000 steps (30.0%)");
    } finally {
      RELEASE.countDown();
      spark.stop();
    }
  }
}
