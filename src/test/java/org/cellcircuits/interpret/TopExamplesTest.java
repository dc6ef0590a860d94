package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TopExamplesTest {

  /** 300 examples over 30 cells with only four distinct activations, so ties are everywhere. */
  private static List<TopExample> tiedExamples() {
    Random random = new Random(7);
    List<TopExample> out = new ArrayList<>();
    for (int cell = 0; cell < 30; cell++) {
      for (int pos = 0; pos < 10; pos++) {
        float z = 0.5f * (1 + random.nextInt(4));
        out.add(new TopExample("cell-" + (char) ('a' + (cell * 7) % 26) + cell, "t" + cell % 3, pos, null, -1, z));
      }
    }
    java.util.Collections.shuffle(out, random);
    return out;
  }

  /** The reference: sort everything by activation (then cell id, position) and take the first k. */
  private static List<TopExample> sortedTopK(List<TopExample> all, int k) {
    List<TopExample> sorted = new ArrayList<>(all);
    sorted.sort(Comparator.comparingDouble((TopExample e) -> -e.activation())
        .thenComparing(TopExample::cellId).thenComparingInt(TopExample::position));
    return sorted.subList(0, Math.min(k, sorted.size()));
  }

  @Test
  void keepsTheKStrongestAsAFullSortWould() {
    List<TopExample> all = tiedExamples();
    for (int k : new int[] {1, 2, 7, 16, 17, 50, 1000}) {
      TopExamples top = new TopExamples(k);
      all.forEach(top::offer);
      assertThat(top.strongestFirst()).as("k = %d", k).isEqualTo(sortedTopK(all, k));
      assertThat(top.size()).isEqualTo(Math.min(k, all.size()));
    }
  }

  @Test
  void anySplitMergedInAnyOrderKeepsTheSameExamples() {
    List<TopExample> all = tiedExamples();
    int k = 12;
    List<TopExample> expected = sortedTopK(all, k);
    // Four partitions of unequal size, merged left to right, right to left, and as a tree.
    int[] cuts = {0, 13, 140, 141, 300};
    List<TopExamples> parts = new ArrayList<>();
    for (int order = 0; order < 3; order++) {
      parts.clear();
      for (int p = 0; p < 4; p++) {
        TopExamples t = new TopExamples(k);
        all.subList(cuts[p], cuts[p + 1]).forEach(t::offer);
        parts.add(t);
      }
      TopExamples merged = switch (order) {
        case 0 -> parts.get(0).merge(parts.get(1)).merge(parts.get(2)).merge(parts.get(3));
        case 1 -> parts.get(3).merge(parts.get(2)).merge(parts.get(1)).merge(parts.get(0));
        default -> parts.get(2).merge(parts.get(0)).merge(parts.get(3).merge(parts.get(1)));
      };
      assertThat(merged.strongestFirst()).as("merge order %d", order).isEqualTo(expected);
    }
  }

  @Test
  void refusesNoCapacityAndMixedCapacities() {
    assertThatThrownBy(() -> new TopExamples(0)).hasMessageContaining("capacity is 0");
    assertThatThrownBy(() -> new TopExamples(3).merge(new TopExamples(4)))
        .hasMessageContaining("capacity 4 into capacity 3");
  }
}
