package org.cellcircuits.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Examples split into training and held-out sets, per label: each label keeps {@code round(fraction * n)} of its
 * n examples for evaluation (at least one when it has two or more and the fraction is > 0), chosen by a seeded
 * shuffle, so rare cell types are evaluated too and the split is the same on every run.
 *
 * @param train the examples to learn from, in input order
 * @param heldOut the examples to evaluate on, in input order
 */
public record HeldOutSplit(List<AnswerExample> train, List<AnswerExample> heldOut) {

    public HeldOutSplit {
        train = List.copyOf(train);
        heldOut = List.copyOf(heldOut);
    }

    public static HeldOutSplit byLabel(List<AnswerExample> examples, double fraction, long seed) {
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException(String.format("held-out fraction %s must be in [0, 1)", fraction));
        }
        Map<String, List<Integer>> byLabel = new TreeMap<>();
        for (int i = 0; i < examples.size(); i++) {
            byLabel.computeIfAbsent(examples.get(i).label(), l -> new ArrayList<>()).add(i);
        }
        Random random = new Random(seed);
        boolean[] held = new boolean[examples.size()];
        for (List<Integer> indices : byLabel.values()) {
            int n = indices.size();
            int k = (int) Math.round(fraction * n);
            if (fraction > 0 && n >= 2) {
                k = Math.max(k, 1);
            }
            k = Math.min(k, n - 1);
            List<Integer> shuffled = new ArrayList<>(indices);
            Collections.shuffle(shuffled, random);
            for (int i = 0; i < k; i++) {
                held[shuffled.get(i)] = true;
            }
        }
        List<AnswerExample> train = new ArrayList<>();
        List<AnswerExample> heldOut = new ArrayList<>();
        for (int i = 0; i < examples.size(); i++) {
            (held[i] ? heldOut : train).add(examples.get(i));
        }
        return new HeldOutSplit(train, heldOut);
    }
}
