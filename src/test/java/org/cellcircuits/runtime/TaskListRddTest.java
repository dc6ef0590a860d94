package org.cellcircuits.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.SimpleFutureAction;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TaskListRddTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("TaskListRddTest")
        .config("spark.ui.enabled", "false").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** Each task n gives n copies of "n@partition", so that both the order and the partition of a result show. */
  private static final class Repeat implements FlatMapFunction<Iterator<Integer>, String> {
    @Override
    public Iterator<String> call(Iterator<Integer> tasks) throws IOException {
      List<String> out = new ArrayList<>();
      while (tasks.hasNext()) {
        int n = tasks.next();
        if (n < 0) {
          throw new IOException("task " + n + " cannot be read");
        }
        for (int i = 0; i < n; i++) {
          out.add(n + "@" + TaskContext.getPartitionId());
        }
      }
      return out.iterator();
    }
  }

  @Test
  void oneTaskPerPartitionAndResultsInTaskOrder() throws Exception {
    List<Integer> tasks = List.of(3, 0, 1, 2);
    SimpleFutureAction<List<String>> job =
        new TaskListRdd<>(spark.sparkContext(), tasks, new Repeat(), String.class).collectAsync();
    assertThat(TaskListRdd.await(job)).containsExactly("3@0", "3@0", "3@0", "1@2", "2@3", "2@3");
  }

  @Test
  void aCheckedExceptionOfATaskReachesTheDriverUnwrapped() {
    SimpleFutureAction<List<String>> job =
        new TaskListRdd<>(spark.sparkContext(), List.of(1, -7), new Repeat(), String.class).collectAsync();
    assertThatThrownBy(() -> TaskListRdd.await(job))
        .isInstanceOf(java.util.concurrent.ExecutionException.class).hasStackTraceContaining("executor driver): java.io.IOException: task -7 cannot be read");
  }
}
