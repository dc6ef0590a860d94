package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Spearman's rho against hand-ranked values, the grouping, the shares and the median over types. */
class ValidationSummaryTest {
  private static ValidationSummary.Pair gene(String cell, String type, double attribution, double drop,
      boolean changed) {
    return new ValidationSummary.Pair(cell, type, "gene", attribution, drop, changed);
  }

  @Test
  void spearmanIsPearsonOfAverageRanks() {
    // x ranks 1..5; y = [10, 30, 20, 20, 50] has ranks [1, 4, 2.5, 2.5, 5] (tie averaged)
    double[] x = {0.1, 0.2, 0.3, 0.4, 0.5};
    double[] y = {10, 30, 20, 20, 50};
    double[] rx = {1, 2, 3, 4, 5};
    double[] ry = {1, 4, 2.5, 2.5, 5};
    assertThat(ValidationSummary.spearman(x, y)).isCloseTo(pearson(rx, ry), within(1e-12));
    // by hand: rank deviations (-2,-1,0,1,2) and (-2,1,-.5,-.5,2): 6.5 / sqrt(10 x 9.5)
    assertThat(pearson(rx, ry)).isCloseTo(6.5 / Math.sqrt(95), within(1e-12));
    assertThat(ValidationSummary.spearman(x, new double[] {5, 4, 3, 2, 1})).isCloseTo(-1.0, within(1e-12));
    assertThat(ValidationSummary.spearman(x, new double[] {1, 1, 1, 1, 1})).isNull();
    assertThat(ValidationSummary.spearman(new double[] {1, 2}, new double[] {1, 2})).isNull();
  }

  private static double pearson(double[] a, double[] b) {
    double ma = 0;
    double mb = 0;
    for (int i = 0; i < a.length; i++) {
      ma += a[i] / a.length;
      mb += b[i] / b.length;
    }
    double sab = 0;
    double saa = 0;
    double sbb = 0;
    for (int i = 0; i < a.length; i++) {
      sab += (a[i] - ma) * (b[i] - mb);
      saa += (a[i] - ma) * (a[i] - ma);
      sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / Math.sqrt(saa * sbb);
  }

  @Test
  void groupsByTypeAndKindWithSharesAndMedians() {
    List<ValidationSummary.Pair> pairs = new ArrayList<>();
    // fibroblast: 2 cells, genes perfectly ordered; one of 4 changes the prediction
    pairs.add(gene("f1", "fibroblast", 3, 0.9, true));
    pairs.add(gene("f1", "fibroblast", 1, 0.1, false));
    pairs.add(gene("f2", "fibroblast", 2, 0.5, false));
    pairs.add(gene("f2", "fibroblast", -1, -0.2, false));
    // endothelial: reversed
    pairs.add(gene("e1", "endothelial cell", 1, 0.3, false));
    pairs.add(gene("e1", "endothelial cell", 2, 0.2, false));
    pairs.add(gene("e1", "endothelial cell", 3, 0.1, false));
    // myeloid: two pairs only, no correlation
    pairs.add(gene("m1", "myeloid", 1, 0.3, true));
    pairs.add(gene("m1", "myeloid", 2, 0.2, true));
    pairs.add(new ValidationSummary.Pair("f1", "fibroblast", "feature", 1, 1, false));
    ValidationSummary s = ValidationSummary.of(pairs);

    assertThat(s.rows()).extracting(ValidationSummary.Row::cellType, ValidationSummary.Row::kind)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("endothelial cell", "gene"),
            org.assertj.core.groups.Tuple.tuple("fibroblast", "feature"),
            org.assertj.core.groups.Tuple.tuple("fibroblast", "gene"),
            org.assertj.core.groups.Tuple.tuple("myeloid", "gene"));
    ValidationSummary.Row fib = s.rows().get(2);
    assertThat(fib.cells()).isEqualTo(2);
    assertThat(fib.units()).isEqualTo(4);
    assertThat(fib.spearman()).isCloseTo(1.0, within(1e-12));
    assertThat(fib.changedShare()).isEqualTo(0.25);
    assertThat(fib.meanLogprobDrop()).isCloseTo((0.9 + 0.1 + 0.5 - 0.2) / 4, within(1e-12));
    assertThat(s.rows().get(0).spearman()).isCloseTo(-1.0, within(1e-12));
    assertThat(s.rows().get(3).spearman()).isNull();
    assertThat(s.rows().get(3).changedShare()).isEqualTo(1.0);
    // median over the two types with a correlation: (1 + -1) / 2
    assertThat(s.medianSpearman("gene")).isCloseTo(0.0, within(1e-12));
    assertThat(s.positiveTypes("gene")).isEqualTo(1);
    assertThat(s.medianSpearman("feature")).isNaN();
    assertThat(s.format()).contains("fibroblast").contains("+1.00").contains("-1.00")
        .contains("gene knockout +0.00 (positive in 1 of 2 types)");
  }
}
