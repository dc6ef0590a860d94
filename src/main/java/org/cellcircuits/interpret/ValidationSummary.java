package org.cellcircuits.interpret;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.commons.math3.stat.correlation.SpearmansCorrelation;

/**
 * The knockout check summed up per cell type and kind of unit: the Spearman correlation, over every (cell, unit) pair
 * of the type, between a unit's attribution and the drop in the target's log-probability its removal caused; the share
 * of removals that changed the prediction; the mean drop. Across types, the median correlation.
 *
 * <p>Spearman's rho is commons-math3's (ties take their average rank), computed on the driver: the pairs are a few per
 * traced cell, thousands at most, so a Spark aggregation would cost more than it saves.
 */
public final class ValidationSummary {
  /** One (cell type, kind) row of {@code validation/summary}. */
  public record Row(String cellType, String kind, long cells, long units, Double spearman, double changedShare,
      double meanLogprobDrop) {}

  /** One knockout with what the summary needs of its cell. */
  public record Pair(String cellId, String cellType, String kind, double attribution, double logprobDrop,
      boolean predictionChanged) {}

  private final List<Row> rows;

  private ValidationSummary(List<Row> rows) {
    this.rows = List.copyOf(rows);
  }

  public List<Row> rows() {
    return rows;
  }

  /** Groups the pairs by cell type (null counts as its own type) and kind, in name order. */
  public static ValidationSummary of(List<Pair> pairs) {
    Map<String, Map<String, List<Pair>>> groups = new TreeMap<>();
    for (Pair p : pairs) {
      groups.computeIfAbsent(p.cellType() == null ? "" : p.cellType(), k -> new TreeMap<>())
          .computeIfAbsent(p.kind(), k -> new ArrayList<>()).add(p);
    }
    List<Row> out = new ArrayList<>();
    for (Map.Entry<String, Map<String, List<Pair>>> type : groups.entrySet()) {
      for (Map.Entry<String, List<Pair>> kind : type.getValue().entrySet()) {
        List<Pair> g = kind.getValue();
        Set<String> cells = new HashSet<>();
        double[] a = new double[g.size()];
        double[] d = new double[g.size()];
        long changed = 0;
        double dropSum = 0;
        for (int i = 0; i < g.size(); i++) {
          Pair p = g.get(i);
          cells.add(p.cellId());
          a[i] = p.attribution();
          d[i] = p.logprobDrop();
          changed += p.predictionChanged() ? 1 : 0;
          dropSum += p.logprobDrop();
        }
        out.add(new Row(type.getKey().isEmpty() ? null : type.getKey(), kind.getKey(), cells.size(), g.size(),
            spearman(a, d), (double) changed / g.size(), dropSum / g.size()));
      }
    }
    return new ValidationSummary(out);
  }

  /** Spearman's rho, or null when it is undefined (fewer than 3 pairs, or either side constant). */
  static Double spearman(double[] x, double[] y) {
    if (x.length < 3 || constant(x) || constant(y)) {
      return null;
    }
    double rho = new SpearmansCorrelation().correlation(x, y);
    return Double.isFinite(rho) ? rho : null;
  }

  private static boolean constant(double[] v) {
    return Arrays.stream(v).allMatch(x -> x == v[0]);
  }

  /** The median of the per-type correlations of {@code kind} (types without one left out), or NaN when none has one. */
  public double medianSpearman(String kind) {
    double[] values = rows.stream().filter(r -> r.kind().equals(kind) && r.spearman() != null)
        .mapToDouble(Row::spearman).sorted().toArray();
    if (values.length == 0) {
      return Double.NaN;
    }
    int n = values.length;
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  }

  /** Types whose correlation for {@code kind} is above 0, of those with one. */
  public long positiveTypes(String kind) {
    return rows.stream().filter(r -> r.kind().equals(kind) && r.spearman() != null && r.spearman() > 0).count();
  }

  /** The printed table: one line per cell type, genes and features side by side, then the medians. */
  public String format() {
    Map<String, Row[]> byType = new TreeMap<>();
    for (Row r : rows) {
      Row[] both = byType.computeIfAbsent(r.cellType() == null ? "(unannotated)" : r.cellType(), k -> new Row[2]);
      both[r.kind().equals(AttributedUnit.Kind.GENE.text()) ? 0 : 1] = r;
    }
    int width = Math.max(9, byType.keySet().stream().mapToInt(String::length).max().orElse(9));
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT, "%-" + width + "s %5s | %-36s | %-36s%n", "cell type", "cells",
        "gene knockout: rho  changed  mean drop", "feature zeroed: rho  changed  mean drop"));
    for (Map.Entry<String, Row[]> e : byType.entrySet()) {
      Row[] both = e.getValue();
      long cells = Math.max(both[0] == null ? 0 : both[0].cells(), both[1] == null ? 0 : both[1].cells());
      s.append(String.format(Locale.ROOT, "%-" + width + "s %5d | %-36s | %-36s%n", e.getKey(), cells,
          cellOf(both[0], 19), cellOf(both[1], 20)));
    }
    String gene = AttributedUnit.Kind.GENE.text();
    String feature = AttributedUnit.Kind.FEATURE.text();
    s.append(String.format(Locale.ROOT, "median Spearman rho (attribution vs log-probability drop) over cell types: "
            + "gene knockout %s (positive in %d of %d types), feature zeroed %s (positive in %d of %d types)%n",
        fmt(medianSpearman(gene)), positiveTypes(gene), typesWith(gene), fmt(medianSpearman(feature)),
        positiveTypes(feature), typesWith(feature)));
    return s.toString();
  }

  private long typesWith(String kind) {
    return rows.stream().filter(r -> r.kind().equals(kind) && r.spearman() != null).count();
  }

  private static String cellOf(Row r, int pad) {
    if (r == null) {
      return "-";
    }
    return String.format(Locale.ROOT, "%" + pad + "s %7.0f%% %10.2e", r.spearman() == null ? "n/a"
        : String.format(Locale.ROOT, "%+.2f", r.spearman()), 100 * r.changedShare(), r.meanLogprobDrop());
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%+.2f", v);
  }
}
