package org.cellcircuits.circuits;

import java.util.Locale;

/**
 * Where the time of a cell's circuit goes, summed over the graphs a {@link CircuitExtractor} made while it held this
 * profile (jobs/bench/circuits). Unused (null) by default: the code it times then reads one null field per part.
 * Times are wall clock around eager operations, so they are exact on CPU; on a GPU, whose kernels run asynchronously,
 * a part's time lands where the host next waits for the device (the {@code toFloatArray} copies). One profile per
 * extractor and thread.
 */
final class CircuitProfile {
  /** The parts of a graph, in the order they run. */
  enum Part {
    FORWARD("forward + freeze (LocalReplacementModel.of)"),
    SEEDS("rows: seeds (target directions through the frozen LayerNorm)"),
    ATTENTION("rows: backward through frozen attention and skip paths (+ their constants)"),
    ERROR_TOKEN("rows: error, token and decoder-bias edges"),
    FEATURE_EDGES("rows: feature edges (decoder gather + products)"),
    COPIES("rows: Java copies (toFloatArray, scatter into rows)"),
    INFLUENCE("partial influence + ranking"),
    ASSEMBLY("assembly of the graph"),
    PRUNING("pruning (influence, thresholds) + scores"),
    TOTAL_EFFECTS("total effects (signed attribution)"),
    ABLATION("ablation check (2 forwards of the replaced model)");

    final String label;

    Part(String label) {
      this.label = label;
    }
  }

  private final long[] nanos = new long[Part.values().length];
  long graphs;
  long rows;
  long batches;
  /** Floating-point operations of the row products: attention backward (dense, pattern, value). */
  double attentionFlops;
  /** ... of the feature-edge products as computed (padded slots), and as many as there are active features. */
  double featureFlops;
  double featureFlopsExact;
  /** Wall time of the graphs, measured by the caller around {@link CircuitExtractor#extract}. */
  long totalNanos;

  /** Adds the time since {@code since} (a {@link System#nanoTime} reading) to {@code part}; returns now. */
  long add(Part part, long since) {
    long now = System.nanoTime();
    nanos[part.ordinal()] += now - since;
    return now;
  }

  long nanos(Part part) {
    return nanos[part.ordinal()];
  }

  void clear() {
    java.util.Arrays.fill(nanos, 0);
    graphs = 0;
    rows = 0;
    batches = 0;
    attentionFlops = 0;
    featureFlops = 0;
    featureFlopsExact = 0;
    totalNanos = 0;
  }

  /** A table: per part, ms per graph and share of the graphs' total time. */
  String table() {
    StringBuilder sb = new StringBuilder();
    double g = Math.max(1, graphs);
    long accounted = 0;
    sb.append(String.format(Locale.ROOT, "PROFILE %d graphs, %.1f rows and %.1f backward batches per graph%n", graphs,
        rows / g, batches / g));
    for (Part p : Part.values()) {
      long n = nanos[p.ordinal()];
      accounted += n;
      sb.append(String.format(Locale.ROOT, "PROFILE %-62s %9.2f ms %5.1f%%%n", p.label, n / 1e6 / g,
          100.0 * n / Math.max(1, totalNanos)));
    }
    sb.append(String.format(Locale.ROOT, "PROFILE %-62s %9.2f ms %5.1f%%%n", "other (not in a part)",
        (totalNanos - accounted) / 1e6 / g, 100.0 * (totalNanos - accounted) / Math.max(1, totalNanos)));
    sb.append(String.format(Locale.ROOT, "PROFILE %-62s %9.2f ms%n", "total", totalNanos / 1e6 / g));
    sb.append(String.format(Locale.ROOT, "PROFILE flops per graph: attention backward %.2f G (%.1f GFLOP/s), feature "
            + "edges %.2f G as computed (%.1f GFLOP/s), %.2f G without padding%n", attentionFlops / 1e9 / g,
        attentionFlops / Math.max(1, nanos(Part.ATTENTION)), featureFlops / 1e9 / g,
        featureFlops / Math.max(1, nanos(Part.FEATURE_EDGES)), featureFlopsExact / 1e9 / g));
    return sb.toString();
  }
}
