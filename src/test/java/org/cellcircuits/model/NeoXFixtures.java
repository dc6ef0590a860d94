package org.cellcircuits.model;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Objects;
import org.cellcircuits.io.SafetensorsReader;

/** The checkpoint folders and reference outputs written by src/test/resources/neox/make_fixtures.py. */
final class NeoXFixtures {

    static final String[] VARIANTS = {"parallel_rot25", "sequential_rot100", "tied", "bf16"};

    private NeoXFixtures() {}

    static Path folder(String variant) {
        try {
            return Path.of(Objects.requireNonNull(NeoXFixtures.class.getResource("/neox/" + variant + "/config.json"),
                    "fixture " + variant + " missing").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The reference batch ("right" or "left" padded) as a TokenBatch. */
    static TokenBatch batch(SafetensorsReader ref, String side) {
        long[] shape = ref.info(side + ".input_ids").shape();
        long[] ids = ref.readLongs(side + ".input_ids");
        long[] mask = ref.readLongs(side + ".attention_mask");
        int b = (int) shape[0];
        int t = (int) shape[1];
        long[][] ids2 = new long[b][t];
        long[][] mask2 = new long[b][t];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                ids2[i][j] = ids[i * t + j];
                mask2[i][j] = mask[i * t + j];
            }
        }
        return TokenBatch.of(ids2, mask2);
    }

    /**
     * Max |a - b| over the positions of real tokens. Arrays are (B, T, ...) or, for attention patterns,
     * (B, nh, T, T) where only real query rows count (padding rows are meaningless in every implementation).
     */
    static double maxAbsDiffOnRealTokens(float[] actual, float[] expected, long[] shape, TokenBatch batch, boolean pattern) {
        if (actual.length != expected.length) {
            throw new AssertionError("sizes differ: " + actual.length + " vs " + expected.length);
        }
        int b = (int) shape[0];
        int perRow = actual.length / b;
        int t = batch.seqLen();
        double max = 0;
        for (int i = 0; i < b; i++) {
            for (int k = 0; k < perRow; k++) {
                int pos;
                if (pattern) {
                    pos = (k / t) % t; // (nh, Tq, Tk): query index
                } else {
                    pos = k / (perRow / t); // (T, ...): position index
                }
                if (!batch.isReal(i, pos)) {
                    continue;
                }
                int idx = i * perRow + k;
                double d = Math.abs((double) actual[idx] - expected[idx]);
                if (!(d <= max)) {
                    max = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
                }
            }
        }
        return max;
    }
}
