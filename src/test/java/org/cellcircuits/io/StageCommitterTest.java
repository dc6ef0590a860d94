package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.util.Progressable;
import org.apache.spark.SparkException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stage commit protocol on a local run root, with real Spark Parquet writes. */
class StageCommitterTest {
  private static SparkSession spark;

  @TempDir java.nio.file.Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder()
        .master("local[2]")
        .appName("StageCommitterTest")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate();
    // Algorithm 2 commits each finished task's files straight into the output folder, so a job that fails half-way
    // leaves real partial Parquet files behind: the case the commit protocol must hide from readers. Set on the
    // context, since getOrCreate may hand back a session another test class left running.
    spark.sparkContext().hadoopConfiguration().set("mapreduce.fileoutputcommitter.algorithm.version", "2");
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  private RunRoot root() throws IOException {
    return RunRoot.of(tmp.resolve("run").toString(), spark.sparkContext().hadoopConfiguration());
  }

  private static StageSpec spec(String hocon, Map<String, String> inputs) {
    return new StageSpec("ids", ConfigFactory.parseString(hocon), inputs);
  }

  /** Writes ids 0..n-1 as Parquet table "ids" over 4 partitions; partition {@code crashPartition} may throw. */
  private static StageBody writeIds(long n, int crashPartition, int crashAfterRows, AtomicInteger calls) {
    return attemptDir -> {
      calls.incrementAndGet();
      spark.range(0, n, 1, 4)
          .mapPartitions(crashing(crashPartition, crashAfterRows), Encoders.LONG())
          .toDF("id")
          .write()
          .parquet(attemptDir + "/ids");
      return StageResult.of(Map.of("ids", spark.read().parquet(attemptDir + "/ids").count()))
          .withStat("partitions", 4);
    };
  }

  private static MapPartitionsFunction<Long, Long> crashing(int crashPartition, int crashAfterRows) {
    return rows -> {
      int partition = TaskContext.getPartitionId();
      return new Iterator<Long>() {
        private int emitted;

        @Override
        public boolean hasNext() {
          return rows.hasNext();
        }

        @Override
        public Long next() {
          if (partition == crashPartition && emitted == crashAfterRows) {
            throw new IllegalStateException(String.format(
                "simulated executor failure in partition %d after %d rows", partition, emitted));
          }
          emitted++;
          return rows.next();
        }
      };
    };
  }

  private static List<String> children(FileSystem fs, Path dir) throws IOException {
    return Arrays.stream(fs.listStatus(dir)).map(s -> s.getPath().getName()).sorted().toList();
  }

  private long[] committedIds(RunRoot root) throws IOException {
    return spark.read().parquet(root.committedPath("ids", "ids").toString())
        .as(Encoders.LONG()).collectAsList().stream().mapToLong(Long::longValue).sorted().toArray();
  }

  @Test
  void commitsThenSkipsAnEqualRerun() throws Exception {
    RunRoot root = root();
    AtomicInteger calls = new AtomicInteger();
    StageOutcome first = StageCommitter.run(root, spec("ids { n = 1000 }", Map.of()), false,
        writeIds(1000, -1, 0, calls));

    assertThat(first.status()).isEqualTo(StageOutcome.Status.COMMITTED);
    assertThat(first.marker().rowCounts()).containsExactly(Map.entry("ids", 1000L));
    assertThat(first.marker().stats()).containsExactly(Map.entry("partitions", 4.0));
    assertThat(root.committed("ids")).contains(first.marker());
    assertThat(children(root.fileSystem(), root.stagePath("ids")))
        .containsExactly(RunRoot.MARKER, first.marker().attemptFolder());
    assertThat(committedIds(root)).containsExactly(LongStream.range(0, 1000).toArray());

    // Same config written differently (key order, number form), same inputs: skipped without running the body.
    StageOutcome second = StageCommitter.run(root, spec("ids {\n n = 1000.0 }", Map.of()), false,
        writeIds(1000, -1, 0, calls));
    assertThat(second.status()).isEqualTo(StageOutcome.Status.SKIPPED);
    assertThat(second.marker()).isEqualTo(first.marker());
    assertThat(calls).hasValue(1);
  }

  @Test
  void refusesAChangedConfigNamingTheStageTheHashesAndTheKeys() throws Exception {
    RunRoot root = root();
    AtomicInteger calls = new AtomicInteger();
    StageSpec before = spec("ids { n = 1000, seed = 1 }", Map.of());
    StageMarker committed = StageCommitter.run(root, before, false, writeIds(1000, -1, 0, calls)).marker();
    StageSpec after = spec("ids { n = 2000, seed = 1, extra = x }", Map.of());

    assertThatThrownBy(() -> StageCommitter.run(root, after, false, writeIds(2000, -1, 0, calls)))
        .isInstanceOf(StageConflictException.class)
        .hasMessageContaining("stage ids already committed attempt " + committed.attemptId())
        .hasMessageContaining(before.configHash())
        .hasMessageContaining(after.configHash())
        .hasMessageContaining("--overwrite")
        .satisfies(e -> assertThat(((StageConflictException) e).differences())
            .containsExactly("ids.extra: (absent) -> \"x\"", "ids.n: 1000 -> 2000"));

    assertThat(calls).hasValue(1);
    assertThat(root.committed("ids")).contains(committed);
    assertThat(children(root.fileSystem(), root.stagePath("ids")))
        .containsExactly(RunRoot.MARKER, committed.attemptFolder());
  }

  @Test
  void refusesChangedInputsNamingTheInput() throws Exception {
    RunRoot root = root();
    AtomicInteger calls = new AtomicInteger();
    StageCommitter.run(root, spec("ids { n = 10 }", Map.of("stage:up", "attempt=a config=1")), false,
        writeIds(10, -1, 0, calls));

    assertThatThrownBy(() -> StageCommitter.run(root,
        spec("ids { n = 10 }", Map.of("stage:up", "attempt=b config=1")), false, writeIds(10, -1, 0, calls)))
        .isInstanceOf(StageConflictException.class)
        .satisfies(e -> assertThat(((StageConflictException) e).differences())
            .containsExactly("upstream up: attempt a -> b"));
    assertThat(calls).hasValue(1);
  }

  @Test
  void overwriteReplacesWhileReadersSeeOnlyTheCommittedAttempt() throws Exception {
    RunRoot root = root();
    AtomicInteger calls = new AtomicInteger();
    StageMarker a = StageCommitter.run(root, spec("ids { n = 1000 }", Map.of()), false,
        writeIds(1000, -1, 0, calls)).marker();

    StageBody writeB = attemptDir -> {
      StageResult result = writeIds(2000, -1, 0, calls).write(attemptDir);
      // B's data is complete on disk but not committed: readers still resolve A, and read A's 1000 rows.
      assertThat(root.committedPath("ids")).isEqualTo(root.attemptPath("ids", a.attemptId()));
      assertThat(committedIds(root)).hasSize(1000);
      assertThat(root.fileSystem().exists(new Path(attemptDir, "ids"))).isTrue();
      return result;
    };
    StageOutcome b = StageCommitter.run(root, spec("ids { n = 2000 }", Map.of()), true, writeB);

    assertThat(b.status()).isEqualTo(StageOutcome.Status.COMMITTED);
    assertThat(b.marker().attemptId()).isNotEqualTo(a.attemptId());
    assertThat(committedIds(root)).containsExactly(LongStream.range(0, 2000).toArray());
    assertThat(children(root.fileSystem(), root.stagePath("ids")))
        .containsExactly(RunRoot.MARKER, b.marker().attemptFolder());
  }

  @Test
  void aTaskThatThrowsMidWriteLeavesNothingVisibleAndTheRerunWritesExactlyTheRows() throws Exception {
    RunRoot root = root();
    AtomicInteger calls = new AtomicInteger();
    long n = 4000;

    assertThatThrownBy(() -> StageCommitter.run(root, spec("ids { n = 4000 }", Map.of()), false,
        writeIds(n, 3, 300, calls)))
        .isInstanceOf(SparkException.class)
        .hasStackTraceContaining("simulated executor failure in partition 3 after 300 rows");

    // The failed attempt left real partial output (tasks that finished before the failure committed their files)...
    FileSystem fs = root.fileSystem();
    List<String> afterCrash = children(fs, root.stagePath("ids"));
    assertThat(afterCrash).hasSize(1).allMatch(name -> name.startsWith(RunRoot.ATTEMPT_PREFIX));
    Path crashedTable = new Path(new Path(root.stagePath("ids"), afterCrash.get(0)), "ids");
    assertThat(Arrays.stream(fs.listStatus(crashedTable)).map(s -> s.getPath().getName()))
        .anyMatch(name -> name.startsWith("part-") && name.endsWith(".parquet"));
    // ...but no marker, so a reader sees no output at all.
    assertThat(root.committed("ids")).isEmpty();
    assertThatThrownBy(() -> root.committedPath("ids", "ids"))
        .isInstanceOf(StageNotCommittedException.class)
        .hasMessageContaining("stage ids has no committed output");

    StageOutcome rerun = StageCommitter.run(root, spec("ids { n = 4000 }", Map.of()), false,
        writeIds(n, -1, 0, calls));

    assertThat(rerun.status()).isEqualTo(StageOutcome.Status.COMMITTED);
    assertThat(rerun.marker().rowCounts()).containsExactly(Map.entry("ids", n));
    long[] ids = committedIds(root);
    assertThat(ids).hasSize((int) n);
    assertThat(Arrays.stream(ids).distinct().count()).isEqualTo(n);
    assertThat(ids).containsExactly(LongStream.range(0, n).toArray());
    assertThat(children(fs, root.stagePath("ids")))
        .containsExactly(RunRoot.MARKER, rerun.marker().attemptFolder());
  }

  @Test
  void aBodyThatClaimsATableItDidNotWriteDoesNotCommit() throws Exception {
    RunRoot root = root();
    StageBody liar = attemptDir -> {
      spark.range(3).write().parquet(attemptDir + "/written");
      return StageResult.of(Map.of("written", 3L, "promised", 5L));
    };

    assertThatThrownBy(() -> StageCommitter.run(root, spec("ids { n = 3 }", Map.of()), false, liar))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("stage ids reported table 'promised' but wrote nothing at");
    assertThat(root.committed("ids")).isEmpty();
  }

  @Test
  void readersAskingForAnUnknownTableOrAMissingAttemptGetAClearError() throws Exception {
    RunRoot root = root();
    AtomicInteger calls = new AtomicInteger();
    StageMarker m = StageCommitter.run(root, spec("ids { n = 5 }", Map.of()), false,
        writeIds(5, -1, 0, calls)).marker();

    assertThatThrownBy(() -> root.committedPath("ids", "nodes"))
        .isInstanceOf(FileNotFoundException.class)
        .hasMessageContaining("without a table 'nodes'; its tables are [ids]");

    root.fileSystem().delete(root.attemptPath("ids", m.attemptId()), true);
    assertThatThrownBy(() -> StageCommitter.run(root, spec("ids { n = 5 }", Map.of()), false,
        writeIds(5, -1, 0, calls)))
        .isInstanceOf(FileNotFoundException.class)
        .hasMessageContaining("names attempt " + m.attemptId() + ", but its folder")
        .hasMessageContaining("--overwrite");
    StageOutcome rebuilt = StageCommitter.run(root, spec("ids { n = 5 }", Map.of()), true,
        writeIds(5, -1, 0, calls));
    assertThat(rebuilt.status()).isEqualTo(StageOutcome.Status.COMMITTED);
    assertThat(committedIds(root)).containsExactly(0, 1, 2, 3, 4);
  }

  @Test
  void theMarkerIsWrittenToATempFileAndRenamedSoReadersNeverSeeItHalfWritten() throws Exception {
    Configuration conf = new Configuration();
    conf.set("fs.pausefile.impl", PausingFileSystem.class.getName());
    conf.setBoolean("fs.pausefile.impl.disable.cache", true);
    RunRoot root = RunRoot.of("pausefile://" + tmp.resolve("paused").toAbsolutePath(), conf);
    StageBody tiny = attemptDir -> {
      FileSystem fs = new Path(attemptDir).getFileSystem(conf);
      try (OutputStream out = fs.create(new Path(attemptDir, "t"))) {
        out.write(1);
      }
      return StageResult.of(Map.of("t", 1L));
    };
    StageMarker a = StageCommitter.run(root, spec("ids { n = 1 }", Map.of()), false, tiny).marker();

    PausingFileSystem.pause = new CountDownLatch(1);
    PausingFileSystem.release = new CountDownLatch(1);
    ExecutorService writer = Executors.newSingleThreadExecutor();
    try {
      Future<StageOutcome> b = writer.submit(
          () -> StageCommitter.run(root, spec("ids { n = 2 }", Map.of()), true, tiny));
      assertThat(PausingFileSystem.pause.await(60, TimeUnit.SECONDS)).as("marker write reached its middle").isTrue();

      // Half of the new marker is on disk, in a temp file; the marker readers open is still A, whole.
      FileSystem fs = root.fileSystem();
      FileStatus[] temps = fs.listStatus(root.stagePath("ids"),
          p -> p.getName().startsWith(RunRoot.MARKER + ".tmp-"));
      assertThat(temps).hasSize(1);
      assertThat(temps[0].getLen()).isPositive();
      Optional<StageMarker> seen = root.committed("ids");
      assertThat(seen).contains(a);

      PausingFileSystem.release.countDown();
      StageMarker bMarker = b.get(60, TimeUnit.SECONDS).marker();
      assertThat(root.committed("ids")).contains(bMarker);
      assertThat(children(fs, root.stagePath("ids"))).containsExactly(RunRoot.MARKER, bMarker.attemptFolder());
      String onDisk = Files.readString(tmp.resolve("paused").resolve("ids").resolve(RunRoot.MARKER),
          StandardCharsets.UTF_8);
      assertThat(StageMarker.fromJson(onDisk, "marker on disk")).isEqualTo(bMarker);
    } finally {
      PausingFileSystem.release.countDown();
      PausingFileSystem.pause = null;
      writer.shutdownNow();
    }
  }

  /**
   * The local file system under the scheme {@code pausefile:}, which stops half-way through writing a marker (or its
   * temp file) until the test releases it, so the test can look at what a reader sees at that moment.
   */
  public static final class PausingFileSystem extends RawLocalFileSystem {
    static volatile CountDownLatch pause;
    static volatile CountDownLatch release;

    @Override
    public URI getUri() {
      return URI.create("pausefile:///");
    }

    @Override
    public String getScheme() {
      return "pausefile";
    }

    @Override
    public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
        Progressable progress) throws IOException {
      FSDataOutputStream out = super.create(f, overwrite, bufferSize, replication, blockSize, progress);
      CountDownLatch paused = pause;
      if (paused == null || !f.getName().startsWith(RunRoot.MARKER)) {
        return out;
      }
      OutputStream halting = new OutputStream() {
        @Override
        public void write(int b) throws IOException {
          out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          int half = len / 2;
          out.write(b, off, half);
          out.flush();
          paused.countDown();
          try {
            release.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
          }
          out.write(b, off + half, len - half);
        }

        @Override
        public void close() throws IOException {
          out.close();
        }
      };
      return new FSDataOutputStream(halting, null);
    }
  }
}
