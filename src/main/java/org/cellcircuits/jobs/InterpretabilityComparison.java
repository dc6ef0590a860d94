package org.cellcircuits.jobs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.cellcircuits.interpret.InterpretabilityTable;
import org.cellcircuits.io.RunRoot;

/**
 * The interpretability tables of several run roots side by side, e.g. one whose train stage made transcoders and one
 * whose train stage ({@code train.kind = sae}) made SAEs on the same harvest: the comparison the paper did not make.
 * Reads only the interpret stage's committed {@code features} table (no Spark: a few thousand rows), per layer and
 * over all layers.
 *
 * <p>Usage: {@code InterpretabilityComparison <name>=<run root> ...}; prints one side-by-side table per layer and one
 * for all layers, then a line {@code gene_level_at_0.50 <name>=<share> ...} (the all-layer shares at 0.5).
 */
public final class InterpretabilityComparison {
  private InterpretabilityComparison() {}

  /**
   * One run root's tables.
   *
   * @param kinds the dictionary kinds of its features table (transcoder, sae, ...)
   * @param byLayer per layer
   * @param all over all layers
   */
  public record Run(TreeSet<String> kinds, SortedMap<Integer, InterpretabilityTable> byLayer,
      InterpretabilityTable all) {}

  /** The tables of one run root's committed interpret stage, over {@link InterpretabilityTable#DEFAULT_THRESHOLDS}. */
  public static Run read(RunRoot root) throws IOException {
    Path features = root.committedPath("interpret", InterpretJob.FEATURES_TABLE);
    Configuration conf = root.hadoop();
    TreeSet<String> kinds = new TreeSet<>();
    SortedMap<Integer, List<Double>> scores = new TreeMap<>();
    List<Double> all = new ArrayList<>();
    for (FileStatus f : features.getFileSystem(conf).listStatus(features,
        p -> p.getName().endsWith(".parquet") && !p.getName().startsWith("_") && !p.getName().startsWith("."))) {
      try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), f.getPath()).withConf(conf)
          .build()) {
        for (Group g = reader.read(); g != null; g = reader.read()) {
          int layer = g.getInteger("layer", 0);
          kinds.add(g.getString("kind", 0));
          List<Double> layerScores = scores.computeIfAbsent(layer, l -> new ArrayList<>());
          if (g.getLong("firing_count", 0) > 0) {
            double s = g.getDouble("top_gene_share", 0);
            layerScores.add(s);
            all.add(s);
          }
        }
      }
    }
    SortedMap<Integer, InterpretabilityTable> byLayer = new TreeMap<>();
    scores.forEach((layer, s) -> byLayer.put(layer,
        InterpretabilityTable.ofScores(s, InterpretabilityTable.DEFAULT_THRESHOLDS)));
    return new Run(kinds, byLayer, InterpretabilityTable.ofScores(all, InterpretabilityTable.DEFAULT_THRESHOLDS));
  }

  /** The printed comparison: a side-by-side table per layer present in every run, then all layers. */
  public static String format(Map<String, Run> runs) {
    StringBuilder sb = new StringBuilder();
    TreeSet<Integer> layers = null;
    for (Run r : runs.values()) {
      if (layers == null) {
        layers = new TreeSet<>(r.byLayer().keySet());
      } else {
        layers.retainAll(r.byLayer().keySet());
      }
    }
    Map<String, String> kinds = new LinkedHashMap<>();
    runs.forEach((name, r) -> kinds.put(name, String.join("+", r.kinds())));
    sb.append("share of live features that are gene-level (top gene >= threshold of the activation mass); kinds ")
        .append(kinds).append('\n');
    for (int layer : layers == null ? new TreeSet<Integer>() : layers) {
      Map<String, InterpretabilityTable> tables = new LinkedHashMap<>();
      runs.forEach((name, r) -> tables.put(name, r.byLayer().get(layer)));
      sb.append("\nlayer ").append(layer).append('\n').append(InterpretabilityTable.sideBySide(tables));
    }
    Map<String, InterpretabilityTable> all = new LinkedHashMap<>();
    runs.forEach((name, r) -> all.put(name, r.all()));
    sb.append("\nall layers\n").append(InterpretabilityTable.sideBySide(all)).append("\ngene_level_at_0.50");
    runs.forEach((name, r) -> sb.append(String.format(Locale.ROOT, " %s=%.4f", name, r.all().at(0.5).share())));
    return sb.append('\n').toString();
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: InterpretabilityComparison <name>=<run root> ...");
      System.exit(2);
    }
    Configuration conf = new Configuration();
    Map<String, Run> runs = new LinkedHashMap<>();
    for (String a : args) {
      int eq = a.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException(String.format("argument '%s' is invalid: expected <name>=<run root>", a));
      }
      runs.put(a.substring(0, eq), read(RunRoot.of(a.substring(eq + 1), conf)));
    }
    System.out.print(format(runs));
  }
}
