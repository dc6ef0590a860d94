package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class LengthBatchesTest {
  @Test
  void handWorkedBatches() {
    // Sorted longest first: 9 (idx 2), 7 (0), 7 (4), 5 (3), 2 (1); budget 16 positions.
    LengthBatches b = LengthBatches.of(new int[] {7, 2, 9, 5, 7}, 16);
    assertThat(b.batches()).containsExactly(new int[] {2}, new int[] {0, 4}, new int[] {3, 1});
    assertThat(b.realTokens()).isEqualTo(30);
    assertThat(b.paddedTokens()).isEqualTo(9 + 14 + 10);
    assertThat(b.paddingWaste()).isCloseTo(3.0 / 33, org.assertj.core.data.Offset.offset(1e-12));
  }

  @Test
  void aSequenceLongerThanTheBudgetRunsAlone() {
    LengthBatches b = LengthBatches.of(new int[] {3, 50, 3}, 10);
    assertThat(b.batches()).containsExactly(new int[] {1}, new int[] {0, 2});
  }

  @Test
  void everyIndexOnceWithinBudgetAndLittlePaddingOnPromptLikeLengths() {
    Random random = new Random(3);
    int[] lengths = IntStream.range(0, 256).map(i -> 420 + random.nextInt(200)).toArray();
    LengthBatches b = LengthBatches.of(lengths, 4096);
    int[] seen = b.batches().stream().flatMapToInt(Arrays::stream).sorted().toArray();
    assertThat(seen).containsExactly(IntStream.range(0, 256).toArray());
    for (int[] batch : b.batches()) {
      int longest = Arrays.stream(batch).map(i -> lengths[i]).max().getAsInt();
      assertThat((long) batch.length * longest).isLessThanOrEqualTo(4096);
    }
    assertThat(b.paddingWaste()).as("C2S-like prompt lengths, 256 cells per task").isLessThan(0.02);
  }

  @Test
  void badInputIsRefused() {
    assertThatThrownBy(() -> LengthBatches.of(new int[] {3, 0}, 10)).hasMessage(
        "length of sequence 1 is invalid: 0 tokens; need >= 1 token");
    assertThatThrownBy(() -> LengthBatches.of(new int[] {3}, 0))
        .hasMessage("tokens per batch is invalid: 0; need >= 1");
  }
}
