package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.function.UnaryOperator;

/** One forward pass's view of the hook points: applies edits, keeps what was asked for. */
final class HookContext {

    final NDManager scratch;
    final ForwardOptions options;
    final ActivationCache cache;
    /** Where the running block's arrays land (a sub-manager of scratch), or scratch between blocks. */
    private NDManager scope;

    HookContext(NDManager scratch, ForwardOptions options, ActivationCache cache) {
        this.scratch = scratch;
        this.options = options;
        this.cache = cache;
        this.scope = scratch;
    }

    /** A manager for one block's arrays; close it after {@link #exitBlock}. */
    NDManager enterBlock() {
        scope = scratch.newSubManager();
        return scope;
    }

    /**
     * Ends the running block: its output and the activations kept during it move to scratch, so closing the block's
     * manager frees only its temporaries. Returns {@code out}.
     */
    NDArray exitBlock(NDArray out) {
        for (String name : cache == null ? java.util.Set.<String>of() : cache.names()) { // no cache when decoding
            NDArray kept = cache.get(name);
            if (kept.getManager() == scope) {
                kept.attach(scratch);
            }
        }
        if (out.getManager() == scope) {
            out.attach(scratch);
        }
        scope = scratch;
        return out;
    }

    /** True if the point is kept or edited, so a module must compute it explicitly. */
    boolean touches(String name) {
        return options.keep().test(name) || options.edits().containsKey(name);
    }

    /** Hands the kept activations to the cache's manager; call once the forward pass is done. */
    void moveKeptToCache() {
        for (String name : cache.names()) {
            cache.get(name).attach(cache.manager());
        }
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
            // Kept arrays stay in the scratch manager until the pass ends (moveKeptToCache): attaching them now would
            // make every array computed from them land in the cache too and live as long as it.
            // An array the caller owns (a constant returned by an edit) is copied, so closing the cache cannot free it.
            cache.put(name, x.getManager() == scratch || x.getManager() == scope ? x : x.duplicate());
        }
        return x;
    }
}
