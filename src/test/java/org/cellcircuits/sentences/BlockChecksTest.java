package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The flat pre-check of stored entries and the row-by-row check it stands in front of. */
class BlockChecksTest {
  private static final List<String> GENES = List.of("A", "B", "C");

  @Test
  void plausibleIsTrueOnlyWhenEveryEntryIsSurelyValid() {
    int[] cols = {0, 2, 1, 2};
    assertThat(BlockChecks.plausible(cols, new double[] {0, 1, 2.5, 1e300}, 4, 3)).isTrue();
    assertThat(BlockChecks.plausible(new int[] {0, 3}, new double[] {1, 1}, 2, 3)).as("column = nGenes").isFalse();
    assertThat(BlockChecks.plausible(new int[] {-1, 0}, new double[] {1, 1}, 2, 3)).as("column -1").isFalse();
    for (double bad : new double[] {-1, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0}) {
      assertThat(BlockChecks.plausible(cols, new double[] {1, bad, 1, 1}, 4, 3)).as("count %s", bad).isFalse();
    }
    assertThat(BlockChecks.plausible(new int[] {0, 9}, new double[] {1, -5}, 1, 3))
        .as("only the first n entries count").isTrue();
  }

  @Test
  void checkEntriesNamesTheCellAndGeneAndLetsNegativeZeroThrough() {
    String[] ids = {"c0", "c1"};
    int[] indptr = {0, 2, 4};
    int[] cols = {0, 2, 1, 2};
    assertThatCode(() -> BlockChecks.checkEntries("f.h5ad", "X", 10, ids, indptr, cols,
        new double[] {1, -0.0, 2, 3}, GENES)).doesNotThrowAnyException();
    assertThatThrownBy(() -> BlockChecks.checkEntries("f.h5ad", "X", 10, ids, indptr, cols,
        new double[] {1, 1, 2, Double.NaN}, GENES))
        .hasMessageContaining("cell c1 (row 11), gene C (column 2) has count NaN");
    assertThatThrownBy(() -> BlockChecks.checkEntries("f.h5ad", "X", 10, ids, indptr, new int[] {0, 3, 1, 2},
        new double[] {1, 1, 2, 3}, GENES)).hasMessageContaining("cell c0 (row 10) stores gene column 3");
  }
}
