package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class BenjaminiHochbergTest {

  private static final Offset<Double> EXACT = Offset.offset(1e-15);

  @Test
  void fivePValuesWorkedByHand() {
    // Sorted: 0.005 (rank 1), 0.01 (2), 0.03 (3), 0.04 (4), 0.20 (5); m p / rank = 0.025, 0.025, 0.05, 0.05, 0.20;
    // already non-decreasing, so those are the q-values, handed back in input order.
    double[] q = BenjaminiHochberg.adjust(new double[] {0.01, 0.04, 0.03, 0.005, 0.20});
    assertThat(q).containsExactly(new double[] {0.025, 0.05, 0.05, 0.025, 0.20}, EXACT);
  }

  @Test
  void aLargerPValueCanLowerTheQOfSmallerOnes() {
    // m = 4: m p / rank = 0.04, 0.04, 0.028, 0.5. The step-up minimum from the top carries 0.028 down to ranks 1 and 2.
    double[] q = BenjaminiHochberg.adjust(new double[] {0.01, 0.02, 0.021, 0.5});
    assertThat(q).containsExactly(new double[] {0.028, 0.028, 0.028, 0.5}, EXACT);
    // m p / rank = 1.8 at rank 1 never shows: the larger p's 0.95 is the minimum from above.
    assertThat(BenjaminiHochberg.adjust(new double[] {0.95, 0.9})).containsExactly(0.95, 0.95);
    // Capped at 1: m = 3, m p / rank = 2.4 and 1.35.
    assertThat(BenjaminiHochberg.adjust(new double[] {0.9, 0.8}, 3)).containsExactly(1.0, 1.0);
  }

  @Test
  void unlistedTestsCountAsPValuesOfOne() {
    double[] listed = BenjaminiHochberg.adjust(new double[] {0.02, 0.01}, 4);
    double[] full = BenjaminiHochberg.adjust(new double[] {0.02, 0.01, 1, 1});
    assertThat(listed).containsExactly(new double[] {full[0], full[1]}, EXACT);
    assertThat(listed).containsExactly(new double[] {0.04, 0.04}, EXACT);
    assertThatThrownBy(() -> BenjaminiHochberg.adjust(new double[] {0.1, 0.2}, 1)).hasMessageContaining("family");
    assertThatThrownBy(() -> BenjaminiHochberg.adjust(new double[] {1.2})).hasMessageContaining("p-value 0 is 1.2");
  }
}
