package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * Keys (after rotary) and values of every layer for the tokens a batch has seen so far, so greedy decoding feeds
 * only the new token each step instead of the whole prompt again. Rows keep their left padding; the key mask
 * remembers which positions are real.
 *
 * <p>Each layer's keys and values live in one buffer of {@link #reserve}d positions that every decoding step writes
 * into, rather than a new, one position longer array a step: at the real model's shape those arrays (tens of MB each,
 * 48 a step) left the allocator's heap fragmented, and a harvest task's memory grew by gigabytes over 16 steps.
 */
final class KvCache implements AutoCloseable {

    final NDManager manager;
    final int batchSize;
    final NDArray[] keys; // per layer (B, nh, capacity, hs); positions [0, length) are filled
    final NDArray[] values; // per layer (B, nh, capacity, hs)
    int length; // S
    int[] keyMask; // B*S, 1 = real token
    long[] nextPosition; // per row: rotary position of the next token
    private int capacity;

    KvCache(NDManager manager, int batchSize, int numLayers) {
        this.manager = manager;
        this.batchSize = batchSize;
        this.keys = new NDArray[numLayers];
        this.values = new NDArray[numLayers];
    }

    /** Room for this many positions in the buffers the first {@link #put} makes (more grows them, by copying). */
    void reserve(int positions) {
        capacity = Math.max(capacity, positions);
    }

    /** Stores a layer's first keys/values (B, nh, T, hs), copied into a buffer of the reserved positions. */
    void put(int layer, NDArray k, NDArray v) {
        if (keys[layer] != null) {
            keys[layer].close();
            values[layer].close();
        }
        keys[layer] = buffer(k);
        values[layer] = buffer(v);
    }

    /**
     * Writes a step's keys/values (B, nh, t, hs) at positions {@code [length - t, length)} ({@link #appendOneRealToken}
     * has counted them) and returns views of every layer's filled positions: {keys, values}, each (B, nh, length, hs).
     */
    NDArray[] append(int layer, NDArray k, NDArray v) {
        long t = k.getShape().get(2);
        if (length > keys[layer].getShape().get(2)) {
            keys[layer] = grow(keys[layer]);
            values[layer] = grow(values[layer]);
        }
        NDIndex at = new NDIndex(":, :, {}:{}, :", length - t, length);
        keys[layer].set(at, k);
        values[layer].set(at, v);
        NDIndex filled = new NDIndex(":, :, :{}, :", length);
        return new NDArray[] {keys[layer].get(filled), values[layer].get(filled)};
    }

    private NDArray buffer(NDArray a) {
        Shape s = a.getShape(); // (B, nh, T, hs)
        NDArray out;
        if (capacity <= s.get(2)) {
            out = a.duplicate(); // a copy, not a view that keeps the whole QKV projection alive
        } else {
            out = a.getManager().zeros(new Shape(s.get(0), s.get(1), capacity, s.get(3)), a.getDataType());
            out.set(new NDIndex(":, :, :{}, :", s.get(2)), a);
        }
        out.attach(manager);
        return out;
    }

    /** A buffer with room for at least {@code length} positions and some more, the filled ones copied. */
    private NDArray grow(NDArray old) {
        Shape s = old.getShape();
        long room = Math.max(length, 2 * s.get(2));
        NDArray out = manager.zeros(new Shape(s.get(0), s.get(1), room, s.get(3)), old.getDataType());
        out.set(new NDIndex(":, :, :{}, :", s.get(2)), old);
        old.close();
        return out;
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
