package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CellTypeProfileTest {

  private static void fire(ActivationMass mass, String type, double z) {
    mass.add(HarvestedToken.nonGene("c-" + type, type, 0), z);
  }

  @Test
  void meansIncludeTheTokensTheFeatureDidNotFireOnAndTauIsYanais() {
    // 10 tokens of A, 10 of B, 20 of C; the feature's mass: A 10, B 5, C none. Means 1, 0.5, 0.
    // tau = ((1 - 1) + (1 - 0.5) + (1 - 0)) / (3 - 1) = 0.75.
    ActivationMass mass = new ActivationMass();
    fire(mass, "A", 6);
    fire(mass, "A", 4);
    fire(mass, "B", 5);
    CellTypeProfile p = CellTypeProfile.of(mass, Map.of("A", 10L, "B", 10L, "C", 20L));
    assertThat(p.meanByType()).containsExactly(Map.entry("A", 1.0), Map.entry("B", 0.5), Map.entry("C", 0.0));
    assertThat(p.topType()).isEqualTo("A");
    assertThat(p.specificity()).isCloseTo(0.75, within(1e-12));
  }

  @Test
  void tauIsOneForOneTypeAndZeroForEqualTypes() {
    ActivationMass only = new ActivationMass();
    fire(only, "endothelial cell", 2);
    assertThat(CellTypeProfile.of(only, Map.of("endothelial cell", 4L, "fibroblast", 4L, "mast cell", 8L))
        .specificity()).isEqualTo(1.0);
    ActivationMass even = new ActivationMass();
    fire(even, "A", 2);
    fire(even, "B", 4);
    assertThat(CellTypeProfile.of(even, Map.of("A", 1L, "B", 2L)).specificity()).isCloseTo(0.0, within(1e-12));
    assertThat(CellTypeProfile.of(only, Map.of("endothelial cell", 4L)).specificity())
        .as("one type has nothing to be specific against").isZero();
    CellTypeProfile dead = CellTypeProfile.of(new ActivationMass(), Map.of("A", 1L, "B", 1L));
    assertThat(dead.specificity()).isZero();
    assertThat(dead.topType()).isNull();
  }

  @Test
  void aTypeMissingFromTheLayerTotalsIsAnError() {
    ActivationMass mass = new ActivationMass();
    fire(mass, "mast cell", 1);
    assertThatThrownBy(() -> CellTypeProfile.of(mass, Map.of("A", 1L)))
        .hasMessageContaining("cell type 'mast cell'");
  }
}
