package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The automated version of the paper's human evaluation, which read 20 features and called 7 gene-level (35%): of
 * all live features (fired at least once), the share whose gene-level score reaches each threshold. A feature counts
 * at threshold t when its top gene holds at least t of its activation mass, the same test as the {@code gene:} label.
 *
 * @param rows one per threshold, increasing
 */
public record InterpretabilityTable(List<Row> rows) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The thresholds 0.3, 0.4, ..., 0.9. */
  public static final double[] DEFAULT_THRESHOLDS = {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

  /**
   * @param threshold minimum gene-level score
   * @param liveFeatures features that fired at least once
   * @param geneLevelFeatures live features whose gene-level score is at least the threshold
   */
  public record Row(double threshold, int liveFeatures, int geneLevelFeatures) implements Serializable {
    private static final long serialVersionUID = 1L;

    /** geneLevelFeatures / liveFeatures; 0 when no feature is live. */
    public double share() {
      return liveFeatures == 0 ? 0 : (double) geneLevelFeatures / liveFeatures;
    }
  }

  public InterpretabilityTable {
    rows = List.copyOf(rows);
  }

  /** The table over {@link #DEFAULT_THRESHOLDS}. */
  public static InterpretabilityTable of(List<FeatureSummary> features) {
    return of(features, DEFAULT_THRESHOLDS);
  }

  /** The table over the given thresholds, each in (0, 1]. */
  public static InterpretabilityTable of(List<FeatureSummary> features, double[] thresholds) {
    List<Double> scores = new ArrayList<>();
    for (FeatureSummary f : features) {
      if (f.isLive()) {
        scores.add(f.geneScore().topGeneShare());
      }
    }
    return ofScores(scores, thresholds);
  }

  /**
   * The table from the gene-level scores of the live features alone, e.g. read back from the interpret stage's
   * {@code features} table ({@code top_gene_share} of the rows with {@code firing_count > 0}).
   */
  public static InterpretabilityTable ofScores(List<Double> scores, double[] thresholds) {
    List<Row> rows = new ArrayList<>();
    for (double t : thresholds) {
      if (!(t > 0 && t <= 1)) {
        throw new IllegalArgumentException(String.format(Locale.ROOT,
            "gene-level threshold %s; must be in (0, 1]", t));
      }
      int hits = 0;
      for (double s : scores) {
        if (s >= t) {
          hits++;
        }
      }
      rows.add(new Row(t, scores.size(), hits));
    }
    return new InterpretabilityTable(rows);
  }

  /** The row at {@code threshold} (compared to 1e-9). */
  public Row at(double threshold) {
    for (Row r : rows) {
      if (Math.abs(r.threshold() - threshold) < 1e-9) {
        return r;
      }
    }
    throw new IllegalArgumentException(String.format(Locale.ROOT, "no row at threshold %s; rows at %s",
        threshold, rows.stream().map(Row::threshold).toList()));
  }

  /** A printable table: threshold, live, gene-level, share. */
  public String format() {
    StringBuilder sb = new StringBuilder("threshold  live  gene-level  share\n");
    for (Row r : rows) {
      sb.append(String.format(Locale.ROOT, "%9.2f  %4d  %10d  %5.1f%%%n", r.threshold(), r.liveFeatures(),
          r.geneLevelFeatures(), 100 * r.share()));
    }
    return sb.toString();
  }

  /**
   * Several tables side by side, one column group (live, gene-level, share) per table under its name, e.g. the
   * transcoders' and the SAEs' of the same layer:
   *
   * <pre>
   *               transcoder                 sae
   * threshold  live  gene-level  share  live  gene-level  share
   *      0.30   295         160  54.2%   310          90  29.0%
   * </pre>
   *
   * @param tables name to table, in column order; all over the same thresholds
   * @throws IllegalArgumentException when the map is empty or the thresholds differ, naming the table
   */
  public static String sideBySide(java.util.Map<String, InterpretabilityTable> tables) {
    if (tables.isEmpty()) {
      throw new IllegalArgumentException("no table to put side by side");
    }
    List<String> names = new ArrayList<>(tables.keySet());
    List<InterpretabilityTable> list = new ArrayList<>(tables.values());
    List<Double> thresholds = list.get(0).rows().stream().map(Row::threshold).toList();
    for (int i = 1; i < list.size(); i++) {
      List<Double> other = list.get(i).rows().stream().map(Row::threshold).toList();
      if (!other.equals(thresholds)) {
        throw new IllegalArgumentException(String.format(Locale.ROOT,
            "table %s has thresholds %s; table %s has %s", names.get(i), other, names.get(0), thresholds));
      }
    }
    String group = "  live  gene-level   share";
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%9s", ""));
    for (String name : names) {
      sb.append(String.format(Locale.ROOT, "  %" + (group.length() - 2) + "s", name));
    }
    sb.append("\nthreshold").append(group.repeat(names.size())).append('\n');
    for (int r = 0; r < thresholds.size(); r++) {
      sb.append(String.format(Locale.ROOT, "%9.2f", thresholds.get(r)));
      for (InterpretabilityTable t : list) {
        Row row = t.rows().get(r);
        sb.append(String.format(Locale.ROOT, "  %4d  %10d  %5.1f%%", row.liveFeatures(), row.geneLevelFeatures(),
            100 * row.share()));
      }
      sb.append('\n');
    }
    return sb.toString();
  }
}
