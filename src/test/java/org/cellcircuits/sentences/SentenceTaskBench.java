package org.cellcircuits.sentences;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * What one task of the sentences stage spends per cell, piece by piece, on one thread without Spark: reading
 * the rows, reading and ranking them ({@link SentenceCursor}: shuffle, top-K, sentence and prompt bytes), and all
 * that plus writing the Parquet file ({@link SentenceParquetWriter}). CPU microseconds of this thread per cell,
 * warm (the best of the later rounds), on the first ROWS cells of an .h5ad; the differences give each piece. Not
 * a test: prints figures, asserts nothing.
 *
 * <pre>
 * mvn -B -q test-compile; jobs/cellcircuits-local --help >/dev/null   # writes target/classpath.txt
 * java -Xmx4g -XX:+UseParallelGC -cp target/classes:target/test-classes:$(cat target/classpath.txt) \
 *   org.cellcircuits.sentences.SentenceTaskBench ATLAS.h5ad [ROWS (20000)] [CODEC (snappy)]
 * </pre>
 */
public final class SentenceTaskBench {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final int ROUNDS = 4;

  private SentenceTaskBench() {
  }

  public static void main(String[] args) throws Exception {
    String atlas = args[0];
    int rows = args.length > 1 ? Integer.parseInt(args[1]) : 20_000;
    String codec = args.length > 2 ? args[2] : "snappy";
    AtlasSource source = new H5adSource(atlas, AtlasOptions.defaults());
    SentencesParams params = SentencesParams.builder().build();
    java.nio.file.Path out = java.nio.file.Files.createTempFile("sentence-task-bench", ".parquet");
    double read = Double.MAX_VALUE;
    double build = Double.MAX_VALUE;
    double write = Double.MAX_VALUE;
    for (int round = 0; round < ROUNDS; round++) {
      double c0 = cpuMicros();
      try (AtlasReader reader = source.open()) {
        for (long s = 0; s < rows; s += params.rowsPerRead()) {
          reader.read(s, Math.min(rows, s + params.rowsPerRead()));
        }
      }
      double c1 = cpuMicros();
      long bytes = 0;
      try (SentenceCursor cursor = new SentenceCursor(source, AtlasSubset.all(nGenes(source)), params)) {
        cursor.start(task(rows));
        while (cursor.next()) {
          bytes += cursor.promptUtf8().length;
        }
      }
      double c2 = cpuMicros();
      try (SentenceCursor cursor = new SentenceCursor(source, AtlasSubset.all(nGenes(source)), params)) {
        cursor.start(task(rows));
        List<String> words = new ArrayList<>(cursor.nGenes());
        for (int g = 0; g < cursor.nGenes(); g++) {
          words.add(cursor.word(g));
        }
        SentenceParquetWriter writer = new SentenceParquetWriter(new Configuration(),
            new Path(out.toUri()), codec, words, Map.of());
        while (cursor.next()) {
          writer.write(cursor);
        }
        writer.close();
      }
      double c3 = cpuMicros();
      System.out.printf(Locale.ROOT, "round %d: read %.2f, read+build %.2f, read+build+write %.2f us per cell "
          + "(%d prompt bytes)%n", round, (c1 - c0) / rows, (c2 - c1) / rows, (c3 - c2) / rows, bytes);
      if (round > 0) { // round 0 warms the JIT up
        read = Math.min(read, (c1 - c0) / rows);
        build = Math.min(build, (c2 - c1) / rows - (c1 - c0) / rows);
        write = Math.min(write, (c3 - c2) / rows - (c2 - c1) / rows);
      }
    }
    java.nio.file.Files.deleteIfExists(out);
    System.out.printf(Locale.ROOT, "TASK read_us=%.2f build_us=%.2f write_us=%.2f (codec %s, one thread, load %.2f)%n",
        read, build, write, codec, ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
  }

  private static BuildTask task(int rows) {
    return new BuildTask(0, 0, rows, new NumpyRandomState(42).state(), null);
  }

  private static int nGenes(AtlasSource source) throws Exception {
    try (AtlasReader reader = source.open()) {
      return reader.meta().nGenes();
    }
  }

  private static double cpuMicros() {
    return THREADS.getCurrentThreadCpuTime() / 1e3;
  }
}
