package org.cellcircuits.runtime;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.apache.spark.Dependency;
import org.apache.spark.FutureAction;
import org.apache.spark.Partition;
import org.apache.spark.SimpleFutureAction;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.rdd.RDD;
import scala.collection.JavaConverters;
import scala.concurrent.Await;
import scala.concurrent.duration.Duration;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction0;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;
import scala.util.Try;

/**
 * One partition per task of a driver-side list, each computed by one function call; and a job that collects every
 * partition's results in task order.
 *
 * <p>Why not {@code jsc.parallelize(tasks).mapPartitions(f).collectAsync()}: each of those two calls wraps {@code f}
 * in a Scala lambda that Spark's closure cleaner then inspects, reading the bytecode of {@code RDD} and
 * {@code AsyncRDDActions} with ASM. In a fresh JVM that cost ~0.45 s of driver time before the first task of the
 * sentences stage could start, and compiling the ASM reader cost ~1 CPU-s more (JFR, jobs/bench/sentences). A
 * function that is an ordinary class, as here, is not a closure, and the cleaner returns at once.
 */
public final class TaskListRdd<T extends Serializable, R> extends RDD<R> {
  private static final long serialVersionUID = 1L;
  /** Driver side only: each partition carries its own task, so a Spark task does not ship the whole list. */
  private final transient List<T> tasks;
  private final FlatMapFunction<Iterator<T>, R> compute;

  public TaskListRdd(SparkContext sc, List<T> tasks, FlatMapFunction<Iterator<T>, R> compute, Class<R> resultClass) {
    super(sc, noDependencies(), ClassTag$.MODULE$.apply(resultClass));
    this.tasks = new ArrayList<>(tasks);
    this.compute = compute;
  }

  private static scala.collection.Seq<Dependency<?>> noDependencies() {
    return JavaConverters.asScalaBuffer(new ArrayList<Dependency<?>>()).toSeq();
  }

  @Override
  public Partition[] getPartitions() {
    Partition[] partitions = new Partition[tasks.size()];
    for (int i = 0; i < partitions.length; i++) {
      partitions[i] = new TaskPartition<>(i, tasks.get(i));
    }
    return partitions;
  }

  @Override
  @SuppressWarnings("unchecked")
  public scala.collection.Iterator<R> compute(Partition split, TaskContext context) {
    T task = ((TaskPartition<T>) split).task();
    try {
      return JavaConverters.asScalaIterator(compute.call(List.of(task).iterator()));
    } catch (Exception e) {
      throw TaskListRdd.<RuntimeException>rethrow(e);
    }
  }

  /**
   * Submits a job over every partition; its result holds each partition's results, partitions in task order. The
   * job's description and group are the calling thread's, as with any Spark action.
   */
  public SimpleFutureAction<List<R>> collectAsync() {
    int n = tasks.size();
    List<List<R>> parts = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      parts.add(null);
    }
    scala.collection.Seq<Object> partitions = JavaConverters.asScalaBuffer(
        new ArrayList<Object>(java.util.stream.IntStream.range(0, n).boxed().toList())).toSeq();
    return sparkContext().submitJob(this, new CollectPartition<R>(), partitions, new StoreResult<>(parts),
        new Concatenate<>(parts));
  }

  /**
   * Waits for a job of {@link #collectAsync}: its result, or its failure as the cause of an ExecutionException, as
   * {@code JavaFutureAction.get} gives it.
   */
  public static <R> R await(FutureAction<R> job) throws InterruptedException, ExecutionException {
    try {
      Await.ready(job, Duration.Inf());
    } catch (TimeoutException e) {
      throw new IllegalStateException("an unbounded wait timed out", e);
    }
    Try<R> result = job.value().get();
    if (result.isFailure()) {
      throw new ExecutionException(result.failed().get());
    }
    return result.get();
  }

  /** A partition is its index and its task; equal when both are. */
  private record TaskPartition<T>(int index, T task) implements Partition {
  }

  /** Runs on the executors: a partition's rows as a Java list, the form the driver collects. */
  private static final class CollectPartition<R> extends AbstractFunction1<scala.collection.Iterator<R>, List<R>>
      implements Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public List<R> apply(scala.collection.Iterator<R> rows) {
      List<R> out = new ArrayList<>();
      while (rows.hasNext()) {
        out.add(rows.next());
      }
      return out;
    }
  }

  /** On the driver, as each partition's result arrives (on the DAG scheduler's thread). */
  private static final class StoreResult<R> extends AbstractFunction2<Object, List<R>, BoxedUnit> {
    private final List<List<R>> parts;

    StoreResult(List<List<R>> parts) {
      this.parts = parts;
    }

    @Override
    public BoxedUnit apply(Object partition, List<R> rows) {
      synchronized (parts) {
        parts.set((Integer) partition, rows);
      }
      return BoxedUnit.UNIT;
    }
  }

  /** The job's result once every partition has arrived. */
  private static final class Concatenate<R> extends AbstractFunction0<List<R>> {
    private final List<List<R>> parts;

    Concatenate(List<List<R>> parts) {
      this.parts = parts;
    }

    @Override
    public List<R> apply() {
      List<R> all = new ArrayList<>();
      synchronized (parts) {
        parts.forEach(all::addAll);
      }
      return all;
    }
  }

  /** Rethrows a checked exception unwrapped, as Spark's Java API does with its functions' exceptions. */
  @SuppressWarnings("unchecked")
  private static <E extends Throwable> RuntimeException rethrow(Throwable e) throws E {
    throw (E) e;
  }
}
