package org.cellcircuits.jobs;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple4;
import scala.collection.Iterator;

/**
 * What running tasks have added to one accumulator so far, as their executors' heartbeats report it. Spark merges a
 * task's accumulator updates into the driver's value only when the task ends, so work done in one long task (a layer's
 * whole training run is one task) would show as 0 until it finishes; but every heartbeat
 * ({@code spark.executor.heartbeatInterval}, 10 s by default) carries each running task's current accumulator values
 * to the driver's listeners, which is what the Spark UI shows live. This listener keeps the latest of them per task and
 * forgets a task when it ends (its value is then in the accumulator itself).
 */
final class RunningTaskCounts extends SparkListener {
  private final long accumulatorId;
  private final Map<Long, Long> running = new ConcurrentHashMap<>();

  RunningTaskCounts(LongAccumulator accumulator) {
    this.accumulatorId = accumulator.id();
  }

  /** The sum over running tasks of their last reported values. */
  long inFlight() {
    long sum = 0;
    for (long v : running.values()) {
      sum += v;
    }
    return sum;
  }

  /** A running task's current value (tests drive this directly). */
  void update(long taskId, long value) {
    running.put(taskId, value);
  }

  /** A task ended: its value has been merged into the accumulator, or dropped if it failed. */
  void ended(long taskId) {
    running.remove(taskId);
  }

  @Override
  public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate update) {
    Iterator<Tuple4<Object, Object, Object, scala.collection.Seq<AccumulableInfo>>> tasks =
        update.accumUpdates().iterator();
    while (tasks.hasNext()) {
      Tuple4<Object, Object, Object, scala.collection.Seq<AccumulableInfo>> t = tasks.next();
      Iterator<AccumulableInfo> infos = t._4().iterator();
      while (infos.hasNext()) {
        AccumulableInfo info = infos.next();
        if (info.id() == accumulatorId && info.update().isDefined()
            && info.update().get() instanceof Number n) {
          update((Long) t._1(), n.longValue());
        }
      }
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd end) {
    ended(end.taskInfo().taskId());
  }
}
