package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.WriterAppender;
import org.apache.logging.log4j.core.layout.PatternLayout;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageNotCommittedException;
import org.cellcircuits.transcoder.TrainCrashHook;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The demo on a real S3 server: every stage through the command line with {@code --root s3a://bucket/run} against
 * S3Proxy on loopback ({@link LoopbackS3}), credentials from the AWS provider chain (Java system properties), then
 * every committed table read back over S3 and compared with a local run of the same config: markers' row counts and
 * figures, Parquet rows, transcoder files. The train stage is made to fail once before its marker: nothing a reader
 * sees, and the rerun commits what the uninterrupted local run did. Nothing the run wrote or logged holds the secret.
 */
@Tag("e2e")
class S3RoundTripTest {
  private static final String BUCKET = "cellcircuits-e2e";
  /** Every stage, interpret's tables and its HTML report (copied to S3 with copyFromLocalFile) included. */
  private static final List<String> STAGES =
      List.of("sentences", "harvest", "train", "evaluate", "circuits", "interpret");
  /**
   * The demo config shrunk for CI: 160 cells (~30k training tokens a layer), 12 training steps a layer (checkpoints
   * every 5), one cell a type for circuits and for interpret's knockouts.
   */
  private static final List<String> SMALL = List.of("sentences.max-cells=160", "sentences.rows-per-partition=80",
      "harvest.cells-per-task=80", "train.training-tokens=12000", "train.max-epochs=3",
      "train.checkpoint-every-steps=5", "train.lr-warm-up-steps=3", "train.lr-decay-steps=6",
      "train.l1-warm-up-steps=3", "train.scaling-batches=4", "train.dead-feature-window-tokens=6000",
      "train.resample-interval-steps=50", "train.batchtopk-threshold-rate=0.5", "evaluate.max-cells=8",
      "circuits.cells-per-type=1", "circuits.max-feature-nodes=64", "interpret.validation.cells-per-type=1");
  /** Figures that measure time, not results. */
  private static final Pattern TIMING = Pattern.compile(".*(second|per_s|_s$|_ms$|time|wall).*");
  /** Tables compared row by row (both ways, duplicates counted); larger ones by count. */
  private static final long COMPARE_ROWS_UP_TO = 100_000;

  @TempDir static Path tmp;

  @Test
  void theDemoOnALoopbackS3ServerCommitsWhatALocalRunCommits() throws Exception {
    StringWriter log = new StringWriter();
    WriterAppender capture = captureLogs(log);
    try (LoopbackS3 s3 = LoopbackS3.start(tmp.resolve("s3proxy"))) {
      s3.createBucket(BUCKET);
      System.setProperty("aws.accessKeyId", s3.accessKey());
      System.setProperty("aws.secretKey", s3.secretKey());
      SparkSession.Builder builder = SparkSession.builder().master("local[2]").appName("S3RoundTripTest")
          .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2");
      s3.s3aSettings().forEach(builder::config);
      SparkSession spark = builder.getOrCreate();
      // a session another test left open keeps its Hadoop settings: give it these
      s3.s3aSettings().forEach((k, v) -> spark.sparkContext().hadoopConfiguration()
          .set(k.substring("spark.hadoop.".length()), v));
      try {
        List<String> sets = new ArrayList<>(SMALL);
        s3.s3aSettings().forEach((k, v) -> sets.add("run.spark.conf.\"" + k + "\"=\"" + v + "\""));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = CellCircuits.commandLine(StageRegistry.defaults(), ConfigLoader.reference(), s -> spark,
            false);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));

        String local = tmp.resolve("local").toString();
        String remote = "s3a://" + BUCKET + "/run";
        long t0 = System.nanoTime();
        assertThat(cli.execute(args(sets, "run", "--until", "interpret", "--root", local))).as(err.toString())
            .isZero();
        long t1 = System.nanoTime();

        // sentences and harvest on S3, then train fails after its step-5 checkpoint, before its marker
        assertThat(cli.execute(args(sets, "run", "--until", "harvest", "--root", remote))).as(err.toString())
            .isZero();
        RunRoot s3root = RunRoot.of(remote, spark.sparkContext().hadoopConfiguration());
        try (TrainCrashHook crash = TrainCrashHook.crashAfterStep(7)) {
          assertThat(cli.execute(args(sets, "train", "--root", remote))).as("train made to fail").isEqualTo(1);
        }
        assertThat(err.toString()).contains("stopped at step 7 for a test");
        assertThat(s3root.committed("train")).as("no marker after the failure").isEmpty();
        assertThatThrownBy(() -> s3root.committedPath("train", "train_log"))
            .isInstanceOf(StageNotCommittedException.class);
        FileSystem fs = s3root.fileSystem();
        // On S3 a folder is only a key prefix: the failed attempt wrote nothing before its tables (they come at the
        // end), so what it leaves is train's checkpoints, outside the attempt, for the rerun to resume from.
        List<String> left = Stream.of(fs.listStatus(s3root.stagePath("train"))).map(s -> s.getPath().getName())
            .toList();
        System.out.println("S3RoundTripTest: after the failed train, s3a://" + BUCKET + "/run/train/ holds " + left);
        assertThat(left).as("what the failed attempt left on S3").contains("checkpoints")
            .doesNotContain(RunRoot.MARKER);
        // the rerun (resuming from the checkpoint) and every later stage
        assertThat(cli.execute(args(sets, "run", "--until", "interpret", "--root", remote))).as(err.toString())
            .isZero();
        long t2 = System.nanoTime();
        assertThat(Stream.of(fs.listStatus(s3root.stagePath("train"))).map(s -> s.getPath().getName())
            .filter(n -> n.startsWith(RunRoot.ATTEMPT_PREFIX))).as("only the committed attempt is left")
            .containsExactly(s3root.requireCommitted("train").attemptFolder().replaceAll(".*/", ""));
        System.out.printf("S3RoundTripTest: local run %.1f s, s3a run (with the failed train) %.1f s%n",
            (t1 - t0) / 1e9, (t2 - t1) / 1e9);

        RunRoot localRoot = RunRoot.of(local, spark.sparkContext().hadoopConfiguration());
        for (String stage : STAGES) {
          compareStage(spark, stage, localRoot, s3root);
        }

        // the secret: in no object the run wrote, no local file, no log line, no command output
        byte[] secret = s3.secretKey().getBytes(StandardCharsets.UTF_8);
        long objects = 0;
        RemoteIterator<LocatedFileStatus> all = fs.listFiles(new org.apache.hadoop.fs.Path("s3a://" + BUCKET + "/"),
            true);
        while (all.hasNext()) {
          org.apache.hadoop.fs.Path p = all.next().getPath();
          try (InputStream in = fs.open(p)) {
            assertThat(indexOf(in.readAllBytes(), secret)).as("secret key in %s", p).isNegative();
          }
          objects++;
        }
        assertThat(objects).as("objects the S3 run wrote").isGreaterThan(20);
        try (Stream<Path> files = Files.walk(tmp)) {
          for (Path f : files.filter(Files::isRegularFile).filter(f -> !f.startsWith(tmp.resolve("s3proxy")))
              .toList()) {
            assertThat(indexOf(Files.readAllBytes(f), secret)).as("secret key in %s", f).isNegative();
          }
        }
        String logged = log.toString() + out + err;
        assertThat(logged).as("the run's log and output").isNotEmpty().doesNotContain(s3.secretKey());
        System.out.printf("S3RoundTripTest: %d objects, %d log characters checked for the secret%n", objects,
            logged.length());
      } finally {
        System.clearProperty("aws.accessKeyId");
        System.clearProperty("aws.secretKey");
        FileSystem.closeAll();
        spark.stop();
      }
    } finally {
      releaseLogs(capture);
    }
  }

  /** Markers agree (row counts, results), and every table reads back from S3 with the local run's rows or bytes. */
  private static void compareStage(SparkSession spark, String stage, RunRoot local, RunRoot s3) throws IOException {
    StageMarker l = local.requireCommitted(stage);
    StageMarker r = s3.requireCommitted(stage);
    assertThat(r.rowCounts()).as("%s row counts", stage).isEqualTo(l.rowCounts());
    Map<String, Double> ls = results(l.stats());
    Map<String, Double> rs = results(r.stats());
    assertThat(rs.keySet()).as("%s figures", stage).isEqualTo(ls.keySet());
    ls.forEach((k, v) -> assertThat(rs.get(k)).as("%s figure %s", stage, k).isEqualTo(v));
    System.out.printf("S3RoundTripTest: %s: %d tables, %d figures equal%n", stage, l.rowCounts().size(), ls.size());
    for (Map.Entry<String, Long> table : l.rowCounts().entrySet()) {
      org.apache.hadoop.fs.Path lp = local.committedPath(stage, table.getKey());
      org.apache.hadoop.fs.Path rp = s3.committedPath(stage, table.getKey());
      Map<String, byte[]> lfiles = files(local.fileSystem(), lp);
      Map<String, byte[]> rfiles = files(s3.fileSystem(), rp);
      boolean parquet = lfiles.keySet().stream().anyMatch(n -> n.endsWith(".parquet"));
      if (!parquet) {
        assertThat(rfiles.keySet()).as("%s/%s files", stage, table.getKey()).isEqualTo(lfiles.keySet());
        lfiles.forEach((name, bytes) -> {
          if (TEXT.matcher(name).matches()) { // JSON, HTML, text: the same once roots, attempts and times are masked
            assertThat(masked(rfiles.get(name), s3)).as("%s/%s/%s", stage, table.getKey(), name)
                .isEqualTo(masked(bytes, local));
          } else {
            assertThat(rfiles.get(name)).as("%s/%s/%s", stage, table.getKey(), name).isEqualTo(bytes);
          }
        });
        continue;
      }
      Dataset<Row> a = spark.read().parquet(lp.toString());
      Dataset<Row> b = spark.read().parquet(rp.toString());
      String[] timing = Stream.of(a.columns()).filter(c -> TIMING.matcher(c).matches()).toArray(String[]::new);
      a = comparable(a.drop(timing));
      b = comparable(b.drop(timing));
      long count = b.count();
      assertThat(count).as("%s/%s rows read back from S3", stage, table.getKey()).isEqualTo(a.count());
      if (count <= COMPARE_ROWS_UP_TO) {
        assertThat(b.exceptAll(a).count() + a.exceptAll(b).count()).as("%s/%s rows that differ", stage,
            table.getKey()).isZero();
      }
    }
  }

  private static final Pattern TEXT = Pattern.compile(".*\\.(json|html|txt|md|csv|tsv|js|css)$");
  private static final Pattern ATTEMPT = Pattern.compile("\\d{8}-\\d{6}-[0-9a-f]{8}");
  private static final Pattern INSTANT = Pattern.compile("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z?");

  private static final Pattern TIMED = Pattern.compile(
      "\"([a-z_]*(?:second|per_s|_s|time|wall|_ms)[a-z_]*)\"\\s*:\\s*[-+0-9.eE]+");

  /** Durations and rates in prose: "23.8 s", "0.25 cells/s", "120 ms". */
  private static final Pattern DURATION = Pattern.compile("\\b[0-9][0-9.,]*\\s?(?:s|ms|[a-z ]+/s)\\b");

  /** A text file with its run root, attempt ids and instants masked: what must agree between the two roots. */
  private static String masked(byte[] bytes, RunRoot root) {
    String text = new String(bytes, StandardCharsets.UTF_8).replace(root.uri(), "<root>");
    if (root.uri().startsWith("file:")) {
      text = text.replace(root.path().toUri().getPath(), "<root>");
    }
    text = INSTANT.matcher(ATTEMPT.matcher(text).replaceAll("<attempt>")).replaceAll("<instant>");
    text = TIMED.matcher(text).replaceAll("\"$1\": <time>");
    return DURATION.matcher(text).replaceAll("<time>");
  }

  /** Map columns as JSON text: Spark's EXCEPT refuses MAP columns. */
  private static Dataset<Row> comparable(Dataset<Row> d) {
    for (org.apache.spark.sql.types.StructField f : d.schema().fields()) {
      if (f.dataType() instanceof org.apache.spark.sql.types.MapType) {
        d = d.withColumn(f.name(), org.apache.spark.sql.functions.to_json(d.col(f.name())));
      }
    }
    return d;
  }

  private static Map<String, Double> results(Map<String, Double> stats) {
    Map<String, Double> out = new TreeMap<>();
    stats.forEach((k, v) -> {
      if (!TIMING.matcher(k).matches()) {
        out.put(k, v);
      }
    });
    return out;
  }

  /** A table's files (a single file or a folder's, recursively) by relative name; Spark's _SUCCESS/.crc left out. */
  private static Map<String, byte[]> files(FileSystem fs, org.apache.hadoop.fs.Path table) throws IOException {
    Map<String, byte[]> out = new TreeMap<>();
    String prefix = fs.makeQualified(table).toString();
    RemoteIterator<LocatedFileStatus> it = fs.listFiles(table, true);
    while (it.hasNext()) {
      org.apache.hadoop.fs.Path p = it.next().getPath();
      String name = p.toString().substring(Math.min(prefix.length(), p.toString().length()));
      if (p.getName().endsWith(".crc") || p.getName().equals("_SUCCESS")) {
        continue;
      }
      try (InputStream in = fs.open(p)) {
        out.put(name.isEmpty() ? p.getName() : name, in.readAllBytes());
      }
    }
    return out;
  }

  private static String[] args(List<String> sets, String... head) {
    List<String> a = new ArrayList<>(List.of(head));
    a.addAll(List.of("--config", "conf/demo.conf"));
    for (String s : sets) {
      a.add("--set");
      a.add(s);
    }
    return a.toArray(new String[0]);
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** Every event the test JVM's root logger passes on, as the console would show it. */
  private static WriterAppender captureLogs(StringWriter into) {
    LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
    WriterAppender appender = WriterAppender.newBuilder().setName("S3RoundTripTest").setTarget(into)
        .setLayout(PatternLayout.newBuilder().withPattern("%p %c: %m%n%ex").build()).build();
    appender.start();
    ctx.getConfiguration().addAppender(appender);
    ctx.getConfiguration().getRootLogger().addAppender(appender, null, null);
    ctx.updateLoggers();
    return appender;
  }

  private static void releaseLogs(WriterAppender appender) {
    LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
    ctx.getConfiguration().getRootLogger().removeAppender(appender.getName());
    ctx.updateLoggers();
    appender.stop();
  }
}
