package org.cellcircuits.report;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Everything the report prints. A null table or text means its stage or step did not run and is printed as "not
 * run", with {@code notes} saying why where known.
 *
 * @param runRoot the run root, as printed in the header
 * @param attempt the interpret attempt the report belongs to
 * @param evaluationSummary {@code evaluation/summary}, or null
 * @param evaluationLayers {@code evaluation/layers}, or null
 * @param interpretability the interpret stage's {@code interpretability.txt}, or null
 * @param validationSummary {@code validation/summary}, or null
 * @param cellTypes one entry per traced cell type (empty when the circuits stage has not committed)
 * @param mostSpecific per cell type, the features most specific to it (highest tau among those whose top type it is)
 * @param features the features that get a page, by key ({@link #featuresShown} says which the adapter reads)
 * @param notes why something is missing, printed on the index page
 */
public record ReportData(String runRoot, String attempt, ReportTable evaluationSummary, ReportTable evaluationLayers,
    String interpretability, ReportTable validationSummary, List<CellTypeReport> cellTypes,
    Map<String, List<FeatureKey>> mostSpecific, Map<FeatureKey, FeatureInfo> features, List<String> notes) {

  public ReportData {
    Objects.requireNonNull(runRoot, "run root");
    cellTypes = List.copyOf(cellTypes);
    mostSpecific = new TreeMap<>(mostSpecific);
    features = new TreeMap<>(features);
    notes = List.copyOf(notes);
  }

  /**
   * The features the report gives a page: every feature drawn in a cell type's circuit, every feature of a type's
   * {@code circuits/summary} list, and every feature in {@code mostSpecific}; in key order.
   */
  public static Set<FeatureKey> featuresShown(List<CellTypeReport> cellTypes,
      Map<String, List<FeatureKey>> mostSpecific) {
    Set<FeatureKey> keys = new TreeSet<>();
    for (CellTypeReport t : cellTypes) {
      t.circuit().nodes().stream().filter(n -> n.feature() != null).forEach(n -> keys.add(n.feature()));
      t.topFeatures().forEach(r -> keys.add(r.feature()));
    }
    mostSpecific.values().forEach(keys::addAll);
    return keys;
  }
}
