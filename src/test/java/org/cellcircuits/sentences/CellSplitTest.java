package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.cellcircuits.jobs.ConfigLoader;
import org.junit.jupiter.api.Test;

class CellSplitTest {

  @Test
  void holdsOutTheConfiguredShareOfCellsAndOnlyTheSeedMovesThem() {
    CellSplit split = new CellSplit(0.1, 42);
    int n = 100_000;
    int held = 0;
    int heldBoth = 0;
    CellSplit other = new CellSplit(0.1, 43);
    for (int i = 0; i < n; i++) {
      String id = "AAACCTG-" + i;
      if (split.isHeldOut(id)) {
        held++;
        if (other.isHeldOut(id)) {
          heldBoth++;
        }
      }
    }
    // Binomial(100000, 0.1): sd ~ 95, so 5 sd either side.
    assertThat(held).isBetween(10_000 - 475, 10_000 + 475);
    // Another seed draws an independent split: about 10% of the held-out cells are held out again.
    assertThat(heldBoth).isBetween(1_000 - 160, 1_000 + 160);
  }

  @Test
  void theSplitIsNestedInTheFractionSoRaisingItOnlyAddsCells() {
    CellSplit small = new CellSplit(0.05, 7);
    CellSplit large = new CellSplit(0.2, 7);
    for (int i = 0; i < 10_000; i++) {
      String id = "cell" + i;
      if (small.isHeldOut(id)) {
        assertThat(large.isHeldOut(id)).as(id).isTrue();
      }
    }
    assertThat(CellSplit.none().isHeldOut("cell1")).isFalse();
  }

  @Test
  void readsTheSplitSectionAndRejectsAFractionOutsideItsRange() {
    CellSplit fromDefaults = CellSplit.fromConfig(ConfigLoader.load(null, List.of()));
    assertThat(fromDefaults).isEqualTo(new CellSplit(0.1, 42));
    assertThatThrownBy(() -> CellSplit.fromConfig(ConfigLoader.load(null, List.of("split.held-out-fraction=1"))))
        .hasMessage("cellcircuits.split.held-out-fraction is invalid: 1.0; need a share in [0, 1)");
  }
}
