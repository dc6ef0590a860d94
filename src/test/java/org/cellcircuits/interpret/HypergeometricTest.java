package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import org.junit.jupiter.api.Test;

class HypergeometricTest {

  private static BigInteger choose(int n, int k) {
    if (k < 0 || k > n) {
      return BigInteger.ZERO;
    }
    BigInteger r = BigInteger.ONE;
    for (int i = 1; i <= k; i++) {
      r = r.multiply(BigInteger.valueOf(n - k + i)).divide(BigInteger.valueOf(i));
    }
    return r;
  }

  /** P(X >= k) by counting: sum over i >= k of C(K, i) C(N - K, n - i), over C(N, n), to 40 digits. */
  private static double exactUpperTail(int k, int bigN, int bigK, int n) {
    BigInteger favourable = BigInteger.ZERO;
    for (int i = Math.max(k, 0); i <= Math.min(bigK, n); i++) {
      favourable = favourable.add(choose(bigK, i).multiply(choose(bigN - bigK, n - i)));
    }
    return new BigDecimal(favourable).divide(new BigDecimal(choose(bigN, n)), new MathContext(40)).doubleValue();
  }

  @Test
  void everySmallCaseMatchesExactCounting() {
    int checked = 0;
    for (int bigN : new int[] {1, 2, 5, 9, 17, 30}) {
      for (int bigK = 0; bigK <= bigN; bigK++) {
        for (int n = 0; n <= bigN; n++) {
          for (int k = 0; k <= Math.min(bigK, n); k++) {
            double exact = exactUpperTail(k, bigN, bigK, n);
            assertThat(Hypergeometric.upperTail(k, bigN, bigK, n))
                .as("P(X >= %d), N=%d K=%d n=%d", k, bigN, bigK, n)
                .isCloseTo(exact, within(1e-12 + 1e-10 * exact));
            checked++;
          }
        }
      }
    }
    assertThat(checked).isGreaterThan(5000);
  }

  @Test
  void tinyTailsOfAGenomeSizedUniverseKeepTheirRelativePrecision() {
    // All 10 top genes of 20,000 in a 10-gene set: 1 / C(20000, 10), about 3.5e-37; 8 of 10 in a 50-gene set.
    int[][] cases = {{10, 20000, 10, 10}, {8, 20000, 50, 10}, {3, 18000, 200, 25}};
    for (int[] c : cases) {
      double exact = exactUpperTail(c[0], c[1], c[2], c[3]);
      double p = Hypergeometric.upperTail(c[0], c[1], c[2], c[3]);
      assertThat(p).as("P(X >= %d), N=%d K=%d n=%d", c[0], c[1], c[2], c[3]).isPositive();
      assertThat(Math.abs(p - exact) / exact).as("relative error for exact %s", exact).isLessThan(1e-9);
    }
  }

  @Test
  void noOverlapIsCertainAndImpossibleInputsAreRefused() {
    assertThat(Hypergeometric.upperTail(0, 100, 10, 5)).isEqualTo(1.0);
    assertThatThrownBy(() -> Hypergeometric.upperTail(1, 10, 11, 2)).hasMessageContaining("need 0 <= set");
    assertThatThrownBy(() -> Hypergeometric.upperTail(4, 10, 3, 5)).hasMessageContaining("overlap 4");
  }
}
