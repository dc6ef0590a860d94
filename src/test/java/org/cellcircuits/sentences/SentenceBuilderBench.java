package org.cellcircuits.sentences;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Throughput of the sentence builder alone (one thread, no Spark, no I/O) and of the tie-break pre-pass, on
 * synthetic cells of ~2,000 stored entries over 30,000 genes. Not a test: prints figures, asserts nothing.
 *
 * <pre>
 * mvn -B -q test-compile
 * java -Xmx3g -cp target/classes:target/test-classes org.cellcircuits.sentences.SentenceBuilderBench
 * </pre>
 */
public final class SentenceBuilderBench {
  private static final int GENES = 30_000;
  private static final int CELLS = 4_000;
  private static final int MEAN_STORED = 2_000;

  /** CPU seconds of this thread: the machine is shared, so rates per CPU second are the comparable figure. */
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private static double cpu() {
    return THREADS.getCurrentThreadCpuTime() / 1e9;
  }

  public static void main(String[] args) {
    SplittableRandom random = new SplittableRandom(1);
    List<String> symbols = new ArrayList<>(GENES);
    for (int g = 0; g < GENES; g++) {
      symbols.add("GENE" + g);
    }
    AtlasMeta meta = new AtlasMeta("bench", CELLS, symbols, List.of());
    int[] indptr = new int[CELLS + 1];
    int[] indices = new int[CELLS * (MEAN_STORED + 400)];
    double[] values = new double[indices.length];
    boolean[] taken = new boolean[GENES];
    for (int r = 0; r < CELLS; r++) {
      int stored = MEAN_STORED - 400 + random.nextInt(801);
      Arrays.fill(taken, false);
      int n = 0;
      while (n < stored) {
        int g = random.nextInt(GENES);
        if (!taken[g]) {
          taken[g] = true;
          n++;
        }
      }
      int k = indptr[r];
      for (int g = 0; g < GENES; g++) {
        if (taken[g]) {
          indices[k] = g;
          // UMI-like counts: mostly 1 and 2, a geometric tail (many ties, as in real data).
          int c = 1;
          while (random.nextDouble() < 0.45 && c < 5000) {
            c = c * 2 + random.nextInt(2);
          }
          values[k++] = c;
        }
      }
      indptr[r + 1] = k;
    }
    double meanStored = indptr[CELLS] / (double) CELLS;
    System.out.printf("cells %d, genes %d, mean stored entries per cell %.0f%n", CELLS, GENES, meanStored);

    for (TieOrder ties : TieOrder.values()) {
      CellSentenceBuilder b = new CellSentenceBuilder(meta, AtlasSubset.all(GENES), 200, ties, true, false);
      double rate = 0;
      double cpuRate = 0;
      for (int round = 0; round < 4; round++) { // the first rounds warm the JIT up
        NumpyRandomState rng = new NumpyRandomState(42);
        long t0 = System.nanoTime();
        double c0 = cpu();
        long chars = 0;
        int passes = 3;
        for (int pass = 0; pass < passes; pass++) {
          for (int r = 0; r < CELLS; r++) {
            chars += b.build("c", indices, values, indptr[r], indptr[r + 1], rng).sentence().length();
          }
        }
        rate = passes * CELLS / ((System.nanoTime() - t0) / 1e9);
        cpuRate = passes * CELLS / (cpu() - c0);
        if (chars == 42) {
          System.out.print("");
        }
      }
      System.out.printf("CellSentenceBuilder ties=%s K=200: %.0f cells/s wall, %.0f cells per CPU-second (one "
          + "thread)%n", ties.configName(), rate, cpuRate);
    }

    PromptTemplate template = PromptTemplate.c2sCellType();
    CellSentenceBuilder b = new CellSentenceBuilder(meta, AtlasSubset.all(GENES), 200, TieOrder.C2S, true, false);
    double rate = 0;
    double cpuRate = 0;
    for (int round = 0; round < 4; round++) {
      NumpyRandomState rng = new NumpyRandomState(42);
      long t0 = System.nanoTime();
      double c0 = cpu();
      long chars = 0;
      for (int r = 0; r < CELLS; r++) {
        CellSentence s = b.build("c", indices, values, indptr[r], indptr[r + 1], rng);
        chars += template.format(200, "Homo sapiens", s.sentence()).length();
      }
      rate = CELLS / ((System.nanoTime() - t0) / 1e9);
      cpuRate = CELLS / (cpu() - c0);
    }
    System.out.printf("CellSentenceBuilder + prompt ties=c2s K=200: %.0f cells/s wall, %.0f cells per CPU-second%n",
        rate, cpuRate);

    double drawsPerS = 0;
    double cellsPerS = 0;
    double drawsPerCpuS = 0;
    for (int round = 0; round < 4; round++) {
      NumpyRandomState rng = new NumpyRandomState(42);
      long t0 = System.nanoTime();
      double c0 = cpu();
      long draws = 0;
      int cells = 0;
      for (int pass = 0; pass < 10; pass++) {
        for (int r = 0; r < CELLS; r++) {
          draws += rng.skipShuffle(indptr[r + 1] - indptr[r]);
          cells++;
        }
      }
      double s = (System.nanoTime() - t0) / 1e9;
      drawsPerS = draws / s;
      cellsPerS = cells / s;
      drawsPerCpuS = draws / (cpu() - c0);
    }
    System.out.printf("pre-pass skipShuffle: %.3g draws/s wall (%.3g per CPU-second), %.0f cells/s of ~%.0f stored "
        + "entries%n", drawsPerS, drawsPerCpuS, cellsPerS, meanStored);
    System.out.printf("load average at the end: %.2f on %d cores%n",
        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
        Runtime.getRuntime().availableProcessors());
  }
}
