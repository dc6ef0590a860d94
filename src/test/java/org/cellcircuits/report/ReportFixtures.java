package org.cellcircuits.report;

import java.util.List;
import java.util.Map;

/** A small hand-made report: an endothelial type (the hand-worked circuit) and a type whose name needs escaping. */
final class ReportFixtures {
  private ReportFixtures() {}

  static FeatureInfo feature(int layer, int feature, String label, List<String> genes, String topType) {
    return new FeatureInfo(new FeatureKey(layer, feature), "transcoder", 0.0123, genes.get(0), 0.62, genes, topType,
        0.91, Map.of(topType, 1.5, "fibroblast", 0.1), label, label.contains(":") ? label.split(":")[0] : label,
        List.of(new FeatureInfo.Example("cell-1", topType, 12, genes.get(0), 3, 4.5),
            new FeatureInfo.Example("cell-2", topType, 40, null, null, 2.25)),
        topType, 1e-4);
  }

  static ReportData data(ReportTable evaluation, ReportTable validation) {
    TypeCircuit endo = TypeCircuitBuilderTest.handWorked().build();
    TypeCircuitBuilder evil = new TypeCircuitBuilder("<b>evil</b> & \"co\"", 1);
    evil.addNode(TypeCircuitBuilderTest.token("e", 0, "<img src=x onerror=alert(1)>", 0.5, 0.5))
        .addNode(TypeCircuitBuilderTest.feature("e", 1, 0, 3, 0.4, 0.3))
        .addNode(TypeCircuitBuilderTest.target("e"))
        .addEdge(new CircuitEdgeRow("e", "T:0", "F:1:0:3", 0.7))
        .addEdge(new CircuitEdgeRow("e", "F:1:0:3", "TARGET", -0.2));
    List<CellTypeReport> types = List.of(
        new CellTypeReport("endothelial cell", 3, 0.95, 0.98, endo,
            List.of(new CellTypeReport.Ranked(1, "VWF", null, 1, 1 / 3.0, 0.2, 0.1),
                new CellTypeReport.Ranked(2, "PECAM1", null, 1, 1 / 3.0, 0.17, 0.12)),
            List.of(new CellTypeReport.Ranked(1, null, new FeatureKey(0, 7), 2, 2 / 3.0, 0.57, 0.23),
                new CellTypeReport.Ranked(2, null, new FeatureKey(2, 11), 1, 1 / 3.0, 0.1, 0.01))),
        new CellTypeReport("<b>evil</b> & \"co\"", 1, null, null, evil.build(), List.of(), List.of()));
    Map<String, List<FeatureKey>> specific = Map.of("endothelial cell", List.of(new FeatureKey(0, 7)));
    Map<FeatureKey, FeatureInfo> features = Map.of(
        new FeatureKey(0, 7), feature(0, 7, "gene:VWF", List.of("VWF", "PECAM1", "CDH5"), "endothelial cell"),
        new FeatureKey(1, 3), feature(1, 3, "celltype:<script>alert(1)</script>", List.of("<i>X</i>"),
            "<b>evil</b> & \"co\""));
    return new ReportData("file:/tmp/run", "20260101-000000-abc", evaluation, evaluation,
        "layer 0: live 5\nthreshold  share\n0.50  38.5% <all>", validation, types, specific, features,
        List.of("a note & more"));
  }

  static ReportTable validation() {
    return ReportTable.of(List.of("cell_type", "kind", "cells", "spearman"),
        List.of(List.of("endothelial cell", "gene", 3L, 0.81), List.of("fibroblast", "gene", 2L, 0.5)));
  }
}
