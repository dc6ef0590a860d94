package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link RankSelection} against the definition computed with sorted Java arrays: kept = positive and at least the k-th
 * largest positive value (of the token, or of the batch for k x B), z = pre where kept, else 0 with pre's sign. Values
 * are drawn from a few levels so that ties at the k-th value, and rows with fewer than k positive, occur.
 */
class RankSelectionTest {

    static final int ROWS = 40;
    static final int D_SAE = 12;
    static final int K = 3;

    static NDManager manager;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager(Device.cpu());
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    @Test
    void perTokenKeepsTheKLargestPositiveOfEachRow() {
        float[] pre = draw(1);
        float[] expected = new float[pre.length];
        int ties = 0;
        int short_ = 0;
        for (int b = 0; b < ROWS; b++) {
            float[] row = Arrays.copyOfRange(pre, b * D_SAE, (b + 1) * D_SAE);
            float kth = kthLargestPositive(row, K);
            short_ += kth == 0 ? 1 : 0;
            int kept = 0;
            for (int i = 0; i < D_SAE; i++) {
                boolean on = row[i] > 0 && row[i] >= kth;
                kept += on ? 1 : 0;
                expected[b * D_SAE + i] = on ? row[i] : row[i] * 0f; // -0.0 for a negative one
            }
            ties += kept > K ? 1 : 0;
        }
        assertThat(ties).as("rows with a tie at the k-th value").isPositive();
        assertThat(short_).as("rows with fewer than k positive").isPositive();
        check(RankSelection.perToken(manager.create(pre, new Shape(ROWS, D_SAE)), K), pre, expected);
    }

    @Test
    void perTokenWorksOnTheLastAxisOfAnyRank() {
        float[] pre = draw(2);
        float[] flat = RankSelection.perToken(manager.create(pre, new Shape(ROWS, D_SAE)), K).z().toFloatArray();
        float[] shaped = RankSelection.perToken(manager.create(pre, new Shape(2, ROWS / 2, D_SAE)), K).z().toFloatArray();
        assertThat(bits(shaped)).containsExactly(bits(flat));
    }

    @Test
    void perBatchKeepsTheKTimesBLargestPositiveOfTheBatch() {
        float[] pre = draw(3);
        float kth = kthLargestPositive(pre, K * ROWS);
        float[] expected = new float[pre.length];
        int kept = 0;
        for (int i = 0; i < pre.length; i++) {
            boolean on = pre[i] > 0 && pre[i] >= kth;
            kept += on ? 1 : 0;
            expected[i] = on ? pre[i] : pre[i] * 0f;
        }
        assertThat(kept).as("a tie at the k B-th value").isGreaterThan(K * ROWS);
        check(RankSelection.perBatch(manager.create(pre, new Shape(ROWS, D_SAE)), K), pre, expected);
    }

    /** Values on a grid of 0.25 in [-1.5, 1.5], a row in five mostly negative, so that ties and short rows occur. */
    static float[] draw(long seed) {
        Random r = new Random(seed);
        float[] v = new float[ROWS * D_SAE];
        for (int b = 0; b < ROWS; b++) {
            int shift = b % 5 == 0 ? -4 : 0;
            for (int i = 0; i < D_SAE; i++) {
                v[b * D_SAE + i] = (r.nextInt(13) - 6 + shift) * 0.25f;
            }
        }
        return v;
    }

    /** The k-th largest positive value, or 0 when fewer than k are positive. */
    static float kthLargestPositive(float[] values, int k) {
        float[] positive = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            positive[i] = Math.max(values[i], 0f);
        }
        Arrays.sort(positive);
        return positive[positive.length - k];
    }

    static void check(RankSelection s, float[] pre, float[] expected) {
        float[] z = s.z().toFloatArray();
        float[] active = s.active().toFloatArray();
        // bit patterns, so a zero's sign counts: -0.0 where pre is negative, as the trained fixtures were made
        assertThat(bits(z)).containsExactly(bits(expected));
        for (int i = 0; i < pre.length; i++) {
            assertThat(active[i] == 1f || active[i] == 0f).as("active %d is 0 or 1", i).isTrue();
            assertThat(active[i] == 1f).as("active %d", i).isEqualTo(expected[i] != 0);
        }
    }

    static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Float.floatToRawIntBits(v[i]);
        }
        return b;
    }
}
