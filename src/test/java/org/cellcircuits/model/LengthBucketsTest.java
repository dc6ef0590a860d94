package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LengthBucketsTest {

    static int[] lengths(int n, long seed) {
        Random r = new Random(seed);
        int[] l = new int[n];
        for (int i = 0; i < n; i++) {
            l[i] = 50 + r.nextInt(200);
        }
        return l;
    }

    @Test
    void everyExampleOncePerEpochInBatchesOfSimilarLength() {
        int[] lengths = lengths(1000, 1);
        List<int[]> batches = LengthBuckets.epoch(lengths, 16, 8, new Random(3));
        int[] seen = new int[lengths.length];
        double spread = 0;
        for (int[] b : batches) {
            assertThat(b.length).isBetween(1, 16);
            int min = Integer.MAX_VALUE;
            int max = 0;
            for (int i : b) {
                seen[i]++;
                min = Math.min(min, lengths[i]);
                max = Math.max(max, lengths[i]);
            }
            spread += max - min;
        }
        assertThat(seen).containsOnly(1);
        assertThat(batches).hasSize(63); // 7 full windows of 128 = 56 batches, then 104 left = 7 batches
        // random batches of 16 from 50..249 span ~175 on average; sorted windows of 128 span ~200/8 per batch
        assertThat(spread / batches.size()).isLessThan(40);
    }

    @Test
    void sameSeedSameOrderAndEpochsDiffer() {
        int[] lengths = lengths(300, 2);
        Random a = new Random(9);
        Random b = new Random(9);
        List<int[]> a1 = LengthBuckets.epoch(lengths, 8, 4, a);
        List<int[]> b1 = LengthBuckets.epoch(lengths, 8, 4, b);
        assertThat(flat(a1)).isEqualTo(flat(b1));
        assertThat(flat(LengthBuckets.epoch(lengths, 8, 4, a))).isNotEqualTo(flat(a1));
    }

    @Test
    void oneBucketBatchPerWindowIsAPlainShuffle() {
        int[] lengths = lengths(64, 3);
        List<int[]> batches = LengthBuckets.epoch(lengths, 8, 1, new Random(4));
        List<Integer> all = new ArrayList<>();
        for (int[] b : batches) {
            for (int i = 1; i < b.length; i++) {
                assertThat(lengths[b[i]]).isGreaterThanOrEqualTo(lengths[b[i - 1]]);
            }
            Arrays.stream(b).forEach(all::add);
        }
        assertThat(all).hasSize(64).doesNotHaveDuplicates();
    }

    static int[] flat(List<int[]> batches) {
        return batches.stream().flatMapToInt(Arrays::stream).toArray();
    }
}
