package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Arrays;

/**
 * Keys (after rotary) and values of every layer for the tokens a batch has seen so far, so greedy decoding feeds
 * only the new token each step instead of the whole prompt again. Rows keep their left padding; the key mask
 * remembers which positions are real.
 */
final class KvCache implements AutoCloseable {

    final NDManager manager;
    final int batchSize;
    final NDArray[] keys; // per layer (B, nh, S, hs)
    final NDArray[] values; // per layer (B, nh, S, hs)
    int length; // S
    int[] keyMask; // B*S, 1 = real token
    long[] nextPosition; // per row: rotary position of the next token

    KvCache(NDManager manager, int batchSize, int numLayers) {
        this.manager = manager;
        this.batchSize = batchSize;
        this.keys = new NDArray[numLayers];
        this.values = new NDArray[numLayers];
    }

    /** Stores a layer's full keys/values, freeing the previous ones. */
    void put(int layer, NDArray k, NDArray v) {
        if (keys[layer] != null) {
            keys[layer].close();
            values[layer].close();
        }
        k.attach(manager);
        v.attach(manager);
        keys[layer] = k;
        values[layer] = v;
    }

    /** Records that one real token was appended to every row. */
    void appendOneRealToken() {
        int[] m = new int[batchSize * (length + 1)];
        for (int b = 0; b < batchSize; b++) {
            System.arraycopy(keyMask, b * length, m, b * (length + 1), length);
            m[b * (length + 1) + length] = 1;
            nextPosition[b]++;
        }
        keyMask = m;
        length++;
    }

    /** Starts from a prompt batch: its mask and each row's count of real tokens. */
    void startFrom(TokenBatch batch) {
        length = batch.seqLen();
        keyMask = batch.mask().clone();
        nextPosition = new long[batchSize];
        for (int b = 0; b < batchSize; b++) {
            nextPosition[b] = batch.length(b);
        }
    }

    /**
     * Starts from prompts whose keys and values were put at positions {@code [0, promptLengths[i])} of each row and
     * padding up to {@code length}: the next token of row i is at rotary position {@code promptLengths[i]}, appended
     * after the padding, which the key mask hides.
     */
    void startFromPrompts(int[] promptLengths, int length) {
        this.length = length;
        keyMask = new int[batchSize * length];
        nextPosition = new long[batchSize];
        for (int b = 0; b < batchSize; b++) {
            java.util.Arrays.fill(keyMask, b * length, b * length + promptLengths[b], 1);
            nextPosition[b] = promptLengths[b];
        }
    }

    @Override
    public String toString() {
        return String.format("KvCache(B=%d, S=%d, next=%s)", batchSize, length, Arrays.toString(nextPosition));
    }

    @Override
    public void close() {
        manager.close();
    }
}
