package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * What one forward pass keeps and changes.
 *
 * @param keep which hook points to return in the {@link ActivationCache} (TransformerLens's names_filter); only
 *     these are kept, so memory stays flat however many points exist
 * @param mlpReplacements block index -> function that stands in for that block's MLP
 * @param edits hook name -> function applied to the activation at that point before the forward pass goes on
 *     (TransformerLens's run_with_hooks): freeze an attention pattern, zero a position, patch a value
 * @param logits which logits to compute
 */
public record ForwardOptions(
        Predicate<String> keep,
        Map<Integer, MlpReplacement> mlpReplacements,
        Map<String, UnaryOperator<NDArray>> edits,
        LogitsMode logits) {

    public ForwardOptions {
        if (keep == null || mlpReplacements == null || edits == null || logits == null) {
            throw new IllegalArgumentException("forward options must not be null; use ForwardOptions.logitsOnly() and the with* methods");
        }
        mlpReplacements = Map.copyOf(mlpReplacements);
        edits = Map.copyOf(edits);
    }

    /** All logits, no hooks, no changes: a plain forward pass. */
    public static ForwardOptions logitsOnly() {
        return new ForwardOptions(name -> false, Map.of(), Map.of(), LogitsMode.ALL);
    }

    /** Keeps exactly these hook points. */
    public ForwardOptions keeping(Collection<String> names) {
        Set<String> set = Set.copyOf(names);
        return new ForwardOptions(set::contains, mlpReplacements, edits, logits);
    }

    /** Keeps the hook points that match the filter. */
    public ForwardOptions keeping(Predicate<String> filter) {
        return new ForwardOptions(filter, mlpReplacements, edits, logits);
    }

    public ForwardOptions withLogits(LogitsMode mode) {
        return new ForwardOptions(keep, mlpReplacements, edits, mode);
    }

    /** Replaces block {@code layer}'s MLP. */
    public ForwardOptions replacingMlp(int layer, MlpReplacement replacement) {
        Map<Integer, MlpReplacement> m = new TreeMap<>(mlpReplacements);
        m.put(layer, replacement);
        return new ForwardOptions(keep, m, edits, logits);
    }

    /** Applies {@code edit} to the activation at hook point {@code name}. */
    public ForwardOptions editing(String name, UnaryOperator<NDArray> edit) {
        Map<String, UnaryOperator<NDArray>> m = new TreeMap<>(edits);
        m.put(name, edit);
        return new ForwardOptions(keep, mlpReplacements, m, logits);
    }
}
