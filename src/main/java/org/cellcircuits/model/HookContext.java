package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.function.UnaryOperator;

/** One forward pass's view of the hook points: applies edits, keeps what was asked for. */
final class HookContext {

    final NDManager scratch;
    final ForwardOptions options;
    final ActivationCache cache;

    HookContext(NDManager scratch, ForwardOptions options, ActivationCache cache) {
        this.scratch = scratch;
        this.options = options;
        this.cache = cache;
    }

    /** True if the point is kept or edited, so a module must compute it explicitly. */
    boolean touches(String name) {
        return options.keep().test(name) || options.edits().containsKey(name);
    }

    /** Passes an activation through hook point {@code name}; returns what the forward pass continues with. */
    NDArray point(String name, NDArray x) {
        UnaryOperator<NDArray> edit = options.edits().get(name);
        if (edit != null) {
            NDArray edited = edit.apply(x);
            if (edited == null || !edited.getShape().equals(x.getShape())) {
                throw new IllegalStateException(String.format("edit at hook point %s returned shape %s; expected %s",
                        name, edited == null ? null : edited.getShape(), x.getShape()));
            }
            x = edited;
        }
        if (options.keep().test(name)) {
            // An array the caller owns (a constant returned by an edit) is copied, so closing the cache cannot free it.
            NDArray kept = x.getManager() == scratch ? x : x.duplicate();
            kept.attach(cache.manager());
            cache.put(name, kept);
        }
        return x;
    }
}
