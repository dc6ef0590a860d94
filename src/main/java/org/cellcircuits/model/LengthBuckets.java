package org.cellcircuits.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The order in which training examples are batched in one pass over the data: shuffle, sort each window of
 * {@code batchSize * bucketBatches} examples by length, cut it into batches, shuffle the batches. Each batch then
 * holds examples of similar length (little padding) while the order stays random from pass to pass.
 */
public final class LengthBuckets {

    private LengthBuckets() {}

    /**
     * One epoch of batches: every index of {@code lengths} exactly once; the last batch may be smaller.
     *
     * @param lengths token length of each example
     * @param random the seeded source; consecutive calls give consecutive epochs
     */
    public static List<int[]> epoch(int[] lengths, int batchSize, int bucketBatches, Random random) {
        if (lengths.length == 0) {
            throw new IllegalArgumentException("no examples to batch");
        }
        if (batchSize < 1 || bucketBatches < 1) {
            throw new IllegalArgumentException(String.format(
                    "batchSize %d and bucketBatches %d must both be >= 1", batchSize, bucketBatches));
        }
        List<Integer> order = new ArrayList<>(lengths.length);
        for (int i = 0; i < lengths.length; i++) {
            order.add(i);
        }
        Collections.shuffle(order, random);
        int window = batchSize * bucketBatches;
        List<int[]> batches = new ArrayList<>();
        for (int from = 0; from < order.size(); from += window) {
            Integer[] chunk = order.subList(from, Math.min(order.size(), from + window)).toArray(new Integer[0]);
            // stable sort: equal lengths keep their shuffled order
            Arrays.sort(chunk, (a, b) -> Integer.compare(lengths[a], lengths[b]));
            for (int b = 0; b < chunk.length; b += batchSize) {
                int[] batch = new int[Math.min(batchSize, chunk.length - b)];
                for (int i = 0; i < batch.length; i++) {
                    batch[i] = chunk[b + i];
                }
                batches.add(batch);
            }
        }
        Collections.shuffle(batches, random);
        return batches;
    }
}
