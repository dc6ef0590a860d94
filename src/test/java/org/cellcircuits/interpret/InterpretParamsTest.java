package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class InterpretParamsTest {

  @Test
  void defaultsAreTheDocumentedOnes() {
    InterpretParams p = InterpretParams.defaults();
    assertThat(p.topExamples()).isEqualTo(20);
    assertThat(p.enrichmentTopGenes()).isEqualTo(10);
    assertThat(p.geneLevelThreshold()).isEqualTo(0.5);
    assertThat(p.cellTypeThreshold()).isEqualTo(0.8);
    assertThat(p.templateThreshold()).isEqualTo(0.5);
    assertThat(p.positionThreshold()).isEqualTo(0.5);
  }

  @Test
  void aBadValueNamesItsKey() {
    assertThatThrownBy(() -> new InterpretParams(0, 10, 0.5, 0.8, 0.5, 0.5))
        .hasMessage("cellcircuits.interpret.top-examples is invalid: 0; need >= 1");
    assertThatThrownBy(() -> new InterpretParams(20, -1, 0.5, 0.8, 0.5, 0.5))
        .hasMessage("cellcircuits.interpret.enrichment-top-genes is invalid: -1; need >= 1");
    assertThatThrownBy(() -> InterpretParams.defaults().withGeneLevelThreshold(1.5))
        .hasMessage("cellcircuits.interpret.gene-level-threshold is invalid: 1.5; need a share in (0, 1]");
    assertThatThrownBy(() -> new InterpretParams(20, 10, 0.5, 0.0, 0.5, 0.5))
        .hasMessageStartingWith("cellcircuits.interpret.cell-type-threshold is invalid: 0.0");
    assertThatThrownBy(() -> new InterpretParams(20, 10, 0.5, 0.8, Double.NaN, 0.5))
        .hasMessageStartingWith("cellcircuits.interpret.template-threshold is invalid: NaN");
    assertThatThrownBy(() -> new InterpretParams(20, 10, 0.5, 0.8, 0.5, -0.1))
        .hasMessageStartingWith("cellcircuits.interpret.position-threshold is invalid: -0.1");
  }
}
