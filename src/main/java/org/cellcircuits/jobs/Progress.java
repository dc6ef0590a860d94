package org.cellcircuits.jobs;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports long work while it runs: items done, items/s and ETA, in the log every few seconds.
 *
 * <pre>{@code
 * try (Progress progress = ctx.progress("sentences", "cells", nCells)) {
 *   LongAccumulator done = progress.counter();
 *   rows.mapPartitions(it -> { ...; done.add(n); ... })   // executors count
 *   ...
 * }
 * }</pre>
 *
 * <p>Executors add to a named {@link LongAccumulator}; a daemon thread on the driver polls it. Spark merges an
 * executor's accumulator updates into the driver only when the task ends, so the count adds what running tasks have
 * counted so far as their executors' heartbeats report it ({@link RunningTaskCounts}): a long task (a layer's training)
 * moves the count every heartbeat, not only when it ends. The accumulator is named, so the Spark UI's stage page shows
 * it live as well. The Spark job description is set when progress starts (Spark reads a description when a job
 * is submitted, so it cannot follow the count of a running job; {@link #refreshJobDescription()} updates it between
 * jobs) and restored on {@link #close()}.
 */
public final class Progress implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Progress.class);
  private static final String DESCRIPTION = "spark.job.description";

  private final String what;
  private final String unit;
  private final long total;
  private final LongSupplier done;
  private final LongSupplier nanoClock;
  private final Consumer<String> sink;
  private final long startNanos;
  private final LongAccumulator counter;
  private final ScheduledExecutorService poller;
  private final Runnable onClose;
  private final SparkContext describe;
  private boolean closed;

  private Progress(String what, String unit, long total, LongSupplier done, LongSupplier nanoClock,
      Consumer<String> sink, LongAccumulator counter, Duration every, Runnable onClose, SparkContext describe) {
    this.what = Objects.requireNonNull(what, "what");
    this.unit = Objects.requireNonNull(unit, "unit");
    this.total = total;
    this.done = Objects.requireNonNull(done, "done");
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
    this.sink = Objects.requireNonNull(sink, "sink");
    this.counter = counter;
    this.onClose = onClose;
    this.describe = describe;
    this.startNanos = nanoClock.getAsLong();
    if (every == null) {
      this.poller = null;
    } else {
      this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "cellcircuits-progress-" + what);
        t.setDaemon(true);
        return t;
      });
      long ms = every.toMillis();
      poller.scheduleAtFixedRate(this::report, ms, ms, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Starts reporting.
   *
   * @param what the work, e.g. {@code sentences}
   * @param unit plural item name, e.g. {@code cells}
   * @param total items expected, or a value &lt;= 0 when unknown (then no percentage and no ETA)
   * @param every how often to log
   */
  public static Progress start(SparkSession spark, String what, String unit, long total, Duration every) {
    SparkContext sc = spark.sparkContext();
    LongAccumulator counter = sc.longAccumulator(what + ": " + unit + " done");
    RunningTaskCounts running = new RunningTaskCounts(counter);
    sc.addSparkListener(running);
    String previous = sc.getLocalProperty(DESCRIPTION);
    sc.setJobDescription(total > 0
        ? String.format(Locale.ROOT, "%s: %,d %s", what, total, unit)
        : what + ": " + unit);
    // a task's final value can reach the accumulator a moment before its end reaches the listener: never past total
    LongSupplier done = () -> {
      long n = counter.value() + running.inFlight();
      return total > 0 ? Math.min(n, total) : n;
    };
    return new Progress(what, unit, total, done, System::nanoTime, LOG::info, counter,
        Objects.requireNonNull(every, "every"), () -> {
          sc.removeSparkListener(running);
          sc.setJobDescription(previous);
        }, sc);
  }

  /** A reporter driven by hand, with an injected count and clock (tests, or work counted on the driver). */
  static Progress manual(String what, String unit, long total, LongSupplier done, LongSupplier nanoClock,
      Consumer<String> sink) {
    return new Progress(what, unit, total, done, nanoClock, sink, null, null, () -> {}, null);
  }

  /** The accumulator executors add finished items to. */
  public LongAccumulator counter() {
    if (counter == null) {
      throw new IllegalStateException("progress '" + what + "' counts through a supplier, not an accumulator");
    }
    return counter;
  }

  /** Logs the current line and returns it. */
  public String report() {
    String text = line(what, unit, done.getAsLong(), total, nanoClock.getAsLong() - startNanos);
    sink.accept(text);
    return text;
  }

  /**
   * Sets the current line as the description of the Spark jobs this thread submits next. For stages that run many
   * jobs in a row from the driver (a batch or a layer each), call it between jobs so the Spark UI shows how far the
   * work is; the poller thread cannot do it, since a description belongs to the thread that submits the job.
   */
  public void refreshJobDescription() {
    if (describe != null) {
      describe.setJobDescription(line(what, unit, done.getAsLong(), total, nanoClock.getAsLong() - startNanos));
    }
  }

  /** Stops the poller and logs how long the whole work took. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (poller != null) {
      poller.shutdownNow();
    }
    long n = done.getAsLong();
    long elapsed = nanoClock.getAsLong() - startNanos;
    sink.accept(String.format(Locale.ROOT, "%s: finished %,d %s in %s, %s %s/s",
        what, n, unit, duration(Math.round(elapsed / 1e9)), rate(perSecond(n, elapsed)), unit));
    onClose.run();
  }

  /**
   * One progress line, e.g. {@code sentences: 12,345 / 100,000 cells (12.3%), 4,572 cells/s, ETA 0:00:19}. The rate
   * is the average since the start; the ETA assumes it holds for the rest.
   */
  static String line(String what, String unit, long done, long total, long elapsedNanos) {
    double rate = perSecond(done, elapsedNanos);
    if (total <= 0) {
      return String.format(Locale.ROOT, "%s: %,d %s, %s %s/s", what, done, unit, rate(rate), unit);
    }
    double percent = 100.0 * done / total;
    return String.format(Locale.ROOT, "%s: %,d / %,d %s (%.1f%%), %s %s/s, ETA %s",
        what, done, total, unit, percent, rate(rate), unit, eta(done, total, rate));
  }

  /** Items per second; 0 before any time has passed. */
  static double perSecond(long done, long elapsedNanos) {
    return elapsedNanos <= 0 ? 0.0 : done / (elapsedNanos / 1e9);
  }

  /** Time left at the given rate as {@code H:MM:SS}; {@code ?} while the rate is still 0. */
  static String eta(long done, long total, double perSecond) {
    long left = Math.max(0, total - done);
    if (left == 0) {
      return duration(0);
    }
    if (perSecond <= 0) {
      return "?";
    }
    return duration(Math.round(left / perSecond));
  }

  /** {@code H:MM:SS}, hours unbounded. */
  static String duration(long seconds) {
    return String.format(Locale.ROOT, "%d:%02d:%02d", seconds / 3600, (seconds / 60) % 60, seconds % 60);
  }

  /** Whole items/s with thousands separators, or one decimal below 10/s where a whole number says too little. */
  static String rate(double perSecond) {
    return perSecond < 10
        ? String.format(Locale.ROOT, "%.1f", perSecond)
        : String.format(Locale.ROOT, "%,d", Math.round(perSecond));
  }
}
