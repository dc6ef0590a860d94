package org.cellcircuits.model;

import java.util.Arrays;
import java.util.List;

/**
 * A padded batch of token sequences: ids and attention mask, both (B, T) row-major. Padding may sit on either
 * side; positions come from the mask, so a left-padded row sees the same rotary positions as the unpadded
 * sequence.
 *
 * @param batchSize B
 * @param seqLen T
 * @param ids token ids, B*T
 * @param mask 1 for a real token, 0 for padding, B*T
 */
public record TokenBatch(int batchSize, int seqLen, long[] ids, int[] mask) {

    public TokenBatch {
        if (batchSize <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException(String.format("batch is %d x %d; need at least one token", batchSize, seqLen));
        }
        if (ids.length != (long) batchSize * seqLen || mask.length != ids.length) {
            throw new IllegalArgumentException(String.format(
                    "batch %d x %d needs %d ids and mask values; got %d and %d",
                    batchSize, seqLen, batchSize * seqLen, ids.length, mask.length));
        }
        for (int b = 0; b < batchSize; b++) {
            boolean any = false;
            for (int t = 0; t < seqLen; t++) {
                int m = mask[b * seqLen + t];
                if (m != 0 && m != 1) {
                    throw new IllegalArgumentException(String.format("row %d position %d: mask %d is not 0 or 1", b, t, m));
                }
                any |= m == 1;
            }
            if (!any) {
                throw new IllegalArgumentException(String.format("row %d has no real token", b));
            }
        }
    }

    /** Sequences padded at the end; positions 0..n-1 are the tokens. */
    public static TokenBatch rightPadded(List<long[]> sequences, long padId) {
        return padded(sequences, padId, false);
    }

    /** Sequences padded at the front, so every row's last token is at T-1 (what batched generation needs). */
    public static TokenBatch leftPadded(List<long[]> sequences, long padId) {
        return padded(sequences, padId, true);
    }

    private static TokenBatch padded(List<long[]> sequences, long padId, boolean left) {
        if (sequences.isEmpty()) {
            throw new IllegalArgumentException("no sequences to batch");
        }
        int b = sequences.size();
        int t = sequences.stream().mapToInt(s -> s.length).max().getAsInt();
        long[] ids = new long[b * t];
        int[] mask = new int[b * t];
        Arrays.fill(ids, padId);
        for (int i = 0; i < b; i++) {
            long[] s = sequences.get(i);
            if (s.length == 0) {
                throw new IllegalArgumentException(String.format("sequence %d is empty", i));
            }
            int off = i * t + (left ? t - s.length : 0);
            System.arraycopy(s, 0, ids, off, s.length);
            Arrays.fill(mask, off, off + s.length, 1);
        }
        return new TokenBatch(b, t, ids, mask);
    }

    /** From explicit (B, T) ids and attention mask, as a HuggingFace tokenizer returns them. */
    public static TokenBatch of(long[][] ids, long[][] attentionMask) {
        int b = ids.length;
        int t = b == 0 ? 0 : ids[0].length;
        long[] flatIds = new long[b * t];
        int[] flatMask = new int[b * t];
        for (int i = 0; i < b; i++) {
            if (ids[i].length != t || attentionMask[i].length != t) {
                throw new IllegalArgumentException(String.format("row %d has %d ids and %d mask values; row 0 has %d",
                        i, ids[i].length, attentionMask[i].length, t));
            }
            System.arraycopy(ids[i], 0, flatIds, i * t, t);
            for (int j = 0; j < t; j++) {
                flatMask[i * t + j] = (int) attentionMask[i][j];
            }
        }
        return new TokenBatch(b, t, flatIds, flatMask);
    }

    /**
     * Rotary position of each token: the number of real tokens before it (cumsum(mask) - 1), 0 on padding.
     * HuggingFace's GPT-NeoX forward uses arange(T) unless given position_ids, which shifts left-padded rows;
     * its generate() derives them from the mask like this, and so do we.
     */
    public long[] positions() {
        long[] pos = new long[ids.length];
        for (int b = 0; b < batchSize; b++) {
            long seen = 0;
            for (int t = 0; t < seqLen; t++) {
                int i = b * seqLen + t;
                pos[i] = mask[i] == 1 ? seen++ : 0;
            }
        }
        return pos;
    }

    /** Index (0..T-1) of the last real token of a row. */
    public int lastReal(int row) {
        for (int t = seqLen - 1; t >= 0; t--) {
            if (mask[row * seqLen + t] == 1) {
                return t;
            }
        }
        throw new AssertionError("validated: every row has a real token");
    }

    /** Number of real tokens in a row. */
    public int length(int row) {
        int n = 0;
        for (int t = 0; t < seqLen; t++) {
            n += mask[row * seqLen + t];
        }
        return n;
    }

    /** Token id at (row, t). */
    public long id(int row, int t) {
        return ids[row * seqLen + t];
    }

    /** True if (row, t) is a real token. */
    public boolean isReal(int row, int t) {
        return mask[row * seqLen + t] == 1;
    }
}
