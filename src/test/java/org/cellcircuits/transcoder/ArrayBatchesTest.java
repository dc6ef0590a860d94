package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ArrayBatchesTest {

    @Test
    void cutsRowsInOrderWithAShortLastBatchThenEndsOrCycles() {
        float[] x = new float[5 * 2];
        float[] y = new float[5 * 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = i;
        }
        for (int i = 0; i < y.length; i++) {
            y[i] = 100 + i;
        }
        try (NDManager m = NDManager.newBaseManager()) {
            ArrayBatches once = new ArrayBatches(x, y, 2, 3, 2, false, "five rows");
            TrainingBatch b0 = once.next(m);
            assertThat(b0.input().toFloatArray()).containsExactly(0, 1, 2, 3);
            assertThat(b0.target().toFloatArray()).containsExactly(100, 101, 102, 103, 104, 105);
            once.next(m);
            TrainingBatch last = once.next(m);
            assertThat(last.rows()).isEqualTo(1);
            assertThat(last.input().toFloatArray()).containsExactly(8, 9);
            assertThat(last.rowName().apply(0)).isEqualTo("row 4 of five rows");
            assertThat(once.tokensSeen()).isEqualTo(5);
            assertThat(once.next(m)).isNull();

            ArrayBatches cycling = new ArrayBatches(x, null, 2, 2, 3, true, "autoencoding");
            cycling.next(m);
            TrainingBatch wrapped = cycling.next(m); // rows 3, 4: the tail, then the stream starts again
            assertThat(wrapped.input().toFloatArray()).containsExactly(6, 7, 8, 9);
            assertThat(wrapped.target()).isSameAs(wrapped.input());
            assertThat(cycling.next(m).input().toFloatArray()).containsExactly(0, 1, 2, 3, 4, 5);
            assertThat(cycling.tokensSeen()).isEqualTo(8);
        }
        assertThatThrownBy(() -> new ArrayBatches(Arrays.copyOf(x, 9), null, 2, 2, 2, false, "odd"))
                .hasMessageContaining("odd: 9 input values are not whole rows of 2");
    }
}
