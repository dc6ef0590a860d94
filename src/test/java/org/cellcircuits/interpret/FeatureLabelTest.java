package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FeatureLabelTest {

  private static final InterpretParams DEFAULTS = InterpretParams.defaults();

  private static GeneLevelScore genes(String top, double share) {
    return new GeneLevelScore(top, share, top == null ? List.of() : List.of(top), share);
  }

  private static CellTypeProfile types(String top, double tau) {
    return new CellTypeProfile(Map.of(), top, tau);
  }

  /** Mass with {@code template} on non-gene tokens at position 0 and the rest on gene tokens at positions 1, 2, ... */
  private static ActivationMass mass(double template, double... genePieces) {
    ActivationMass m = new ActivationMass();
    if (template > 0) {
      m.add(HarvestedToken.nonGene("c", "t", 0), template);
    }
    for (int i = 0; i < genePieces.length; i++) {
      m.add(HarvestedToken.gene("c", "t", i + 1, "G" + i, i), genePieces[i]);
    }
    return m;
  }

  private static String label(long fired, GeneLevelScore g, CellTypeProfile t, ActivationMass m) {
    return FeatureLabel.assign(fired, g, t, m, DEFAULTS).text();
  }

  @Test
  void rulesApplyInTheirDocumentedOrder() {
    ActivationMass spread = mass(0, 1, 1, 1, 1);
    assertThat(label(0, genes(null, 0), types(null, 0), new ActivationMass())).isEqualTo("dead");
    assertThat(label(5, genes("VWF", 0.5), types("endothelial cell", 0.95), spread))
        .as("gene before cell type; the threshold is inclusive").isEqualTo("gene:VWF");
    assertThat(label(5, genes("VWF", 0.49), types("endothelial cell", 0.8), spread))
        .isEqualTo("celltype:endothelial cell");
    assertThat(label(5, genes("VWF", 0.49), types("endothelial cell", 0.79), mass(3, 1, 1)))
        .as("all template mass sits at position 0 too; the template rule comes first").isEqualTo("prompt-template");
    assertThat(label(5, genes("G0", 0.25), types("t", 0.1), mass(0, 3, 1, 1, 1)))
        .as("nothing else holds, half the mass at position 1").isEqualTo("position");
    assertThat(label(5, genes("G0", 0.25), types("t", 0.1), spread)).isEqualTo("unlabelled");
  }

  @Test
  void thresholdsComeFromTheParams() {
    InterpretParams strict = DEFAULTS.withGeneLevelThreshold(0.9);
    assertThat(FeatureLabel.assign(5, genes("VWF", 0.6), types(null, 0), mass(0, 1, 1, 1, 1), strict).text())
        .isEqualTo("unlabelled");
  }

  @Test
  void geneAndCellTypeLabelsNameTheirSubjectAndOnlyThey() {
    assertThat(new FeatureLabel(FeatureLabel.Kind.CELL_TYPE, "mast cell").toString()).isEqualTo("celltype:mast cell");
    assertThatThrownBy(() -> new FeatureLabel(FeatureLabel.Kind.GENE, null)).hasMessageContaining("label gene");
    assertThatThrownBy(() -> new FeatureLabel(FeatureLabel.Kind.DEAD, "VWF")).hasMessageContaining("label dead");
  }
}
