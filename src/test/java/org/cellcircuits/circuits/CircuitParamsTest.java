package org.cellcircuits.circuits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.cellcircuits.harvest.HarvestFixtures;
import org.junit.jupiter.api.Test;

/** Bad values of the circuits section fail naming the key, the value and what it needs, in ConfigChecks' form. */
class CircuitParamsTest {
  private static CircuitParams params(String... overrides) {
    return CircuitParams.fromConfig(HarvestFixtures.config("runs/x", Path.of("demo/model"), overrides));
  }

  @Test
  void badValuesNameTheKeyTheValueAndTheRange() {
    assertThat(params("circuits.cells=all").heldOutOnly()).isFalse();
    assertThatThrownBy(() -> params("circuits.cells=some")).hasMessage(
        "cellcircuits.circuits.cells is invalid: 'some'; need one of held-out, all");
    assertThatThrownBy(() -> params("circuits.cells=held-out", "split.held-out-fraction=0")).hasMessage(
        "cellcircuits.circuits.cells is invalid: 'held-out'; need all while cellcircuits.split.held-out-fraction is 0 "
            + "(no cell is held out), or cells held out (then rerun harvest and train)");
    assertThatThrownBy(() -> params("circuits.target=best")).hasMessage(
        "cellcircuits.circuits.target is invalid: 'best'; need predicted, annotated, label:<cell type> or "
            + "difference:<type a>|<type b>");
    assertThatThrownBy(() -> params("circuits.target=\"label: \"")).hasMessage(
        "cellcircuits.circuits.target is invalid: 'label:'; need a cell type after label:");
    assertThatThrownBy(() -> params("circuits.target=\"difference:T cell|\"")).hasMessage(
        "cellcircuits.circuits.target is invalid: 'difference:T cell|'; need two cell types: "
            + "difference:<type a>|<type b>");
    assertThatThrownBy(() -> params("circuits.max-feature-nodes=0")).hasMessage(
        "cellcircuits.circuits.max-feature-nodes is invalid: 0; need >= 1");
    assertThatThrownBy(() -> params("circuits.node-threshold=1.5")).hasMessage(
        "cellcircuits.circuits.node-threshold is invalid: 1.5; need 0 to 1 (a share of the total influence)");
    assertThatThrownBy(() -> params("circuits.greedy-k=0")).hasMessage(
        "cellcircuits.circuits.greedy-k is invalid: 0; need >= 1");
    assertThatThrownBy(() -> params("circuits.max-tokens=0")).hasMessage(
        "cellcircuits.circuits.max-tokens is invalid: 0; need >= 1");
    assertThatThrownBy(() -> params("split.held-out-fraction=1")).hasMessage(
        "cellcircuits.split.held-out-fraction is invalid: 1.0; need a share in [0, 1)");
  }
}
