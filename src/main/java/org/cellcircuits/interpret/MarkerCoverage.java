package org.cellcircuits.interpret;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which cell types have a gene-level feature for one of their marker genes: a live feature whose top gene holds at
 * least the threshold of its activation mass and is among the type's markers. The demo's check that the dictionaries
 * found the genes the atlas was simulated from; on a real atlas, how many types' known markers the model represents
 * by a dedicated feature. Fed one layer at a time, so the driver keeps no layer's summaries.
 */
public final class MarkerCoverage {
  /** One feature that reads a marker: the strongest (highest top-gene share) found for its type. */
  public record Hit(int layer, int feature, String gene, double share) {}

  private final GeneSets markers;
  private final double threshold;
  private final Map<String, Hit> best = new TreeMap<>();
  private final Map<String, Integer> counts = new TreeMap<>();

  /**
   * @param markers one set per cell type (a marker table read by {@link MarkerTableReader})
   * @param threshold the gene-level threshold on the top gene's share, in (0, 1]
   */
  public MarkerCoverage(GeneSets markers, double threshold) {
    this.markers = markers;
    this.threshold = threshold;
    for (GeneSet s : markers.sets()) {
      counts.put(s.name(), 0);
    }
  }

  /** Adds one layer's features. */
  public void add(int layer, List<FeatureSummary> summaries) {
    for (FeatureSummary f : summaries) {
      GeneLevelScore g = f.geneScore();
      if (!f.isLive() || g.topGene() == null || g.topGeneShare() < threshold) {
        continue;
      }
      for (GeneSet s : markers.sets()) {
        if (s.genes().contains(g.topGene())) {
          counts.merge(s.name(), 1, Integer::sum);
          Hit h = best.get(s.name());
          if (h == null || g.topGeneShare() > h.share()) {
            best.put(s.name(), new Hit(layer, f.feature(), g.topGene(), g.topGeneShare()));
          }
        }
      }
    }
  }

  /** Cell types with at least one such feature. */
  public int coveredTypes() {
    return best.size();
  }

  /** Cell types in the marker table. */
  public int types() {
    return markers.sets().size();
  }

  /** The strongest feature per covered type. */
  public Map<String, Hit> hits() {
    return new TreeMap<>(best);
  }

  /** Gene-level features reading a marker of the type, per type (0 for the uncovered). */
  public Map<String, Integer> counts() {
    return new TreeMap<>(counts);
  }

  /** The printed lines: the count, then one line per type. */
  public String format() {
    StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "cell types with a gene-level feature (top gene "
        + "share >= %.2f) for one of their markers (%s): %d of %d%n", threshold, markers.source(), coveredTypes(),
        types()));
    List<String> names = new ArrayList<>(counts.keySet());
    int width = names.stream().mapToInt(String::length).max().orElse(9);
    for (String type : names) {
      Hit h = best.get(type);
      s.append(String.format(Locale.ROOT, "  %-" + width + "s %s%n", type, h == null ? "none"
          : String.format(Locale.ROOT, "%d features; strongest layer %d feature %d reads %s (share %.2f)",
              counts.get(type), h.layer(), h.feature(), h.gene(), h.share())));
    }
    return s.toString();
  }
}
