package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * What a forward pass returned: the logits asked for and the activations at the requested hook points, all in
 * one native-memory scope that {@link #close()} frees. Use it in try-with-resources.
 */
public final class ActivationCache implements AutoCloseable {

    private final NDManager manager;
    private final TokenBatch batch;
    private final Map<String, NDArray> activations = new LinkedHashMap<>();
    private NDArray logits;
    private KvCache keysAndValues;

    ActivationCache(NDManager manager, TokenBatch batch) {
        this.manager = manager;
        this.batch = batch;
    }

    /** The manager that owns everything in this cache; arrays derived from them may be created in it. */
    public NDManager manager() {
        return manager;
    }

    /** The batch this forward pass ran on (for masks and positions). */
    public TokenBatch batch() {
        return batch;
    }

    /** Logits in fp32: (B, T, vocab) for {@link LogitsMode#ALL}, (B, vocab) for LAST. */
    public NDArray logits() {
        if (logits == null) {
            throw new IllegalStateException("this forward pass computed no logits (LogitsMode.NONE)");
        }
        return logits;
    }

    /** The activation at a hook point; the error lists what was kept. */
    public NDArray get(String hookName) {
        NDArray a = activations.get(hookName);
        if (a == null) {
            throw new IllegalArgumentException(String.format(
                    "hook point %s was not kept in this forward pass; kept: %s", hookName, activations.keySet()));
        }
        return a;
    }

    public boolean contains(String hookName) {
        return activations.containsKey(hookName);
    }

    /** Kept hook names in the order the forward pass reached them. */
    public Set<String> names() {
        return Collections.unmodifiableSet(activations.keySet());
    }

    /** Frees the activation at a hook point before the rest of the cache (a no-op when it is not kept). */
    public void release(String hookName) {
        NDArray a = activations.remove(hookName);
        if (a != null) {
            a.close();
        }
    }

    void put(String name, NDArray value) {
        activations.put(name, value);
    }

    void setLogits(NDArray logits) {
        this.logits = logits;
    }

    void setKeysAndValues(KvCache kv) {
        this.keysAndValues = kv;
    }

    /** Frees the keys and values (a no-op when none are kept). */
    void releaseKeysAndValues() {
        if (keysAndValues != null) {
            keysAndValues.close();
            keysAndValues = null;
        }
    }

    /** Every layer's keys and values, when the pass was asked to keep them. */
    KvCache keysAndValues() {
        if (keysAndValues == null) {
            throw new IllegalStateException("this forward pass kept no keys and values (GptNeoX.run with "
                    + "keepKeysAndValues), or a decoding consumed them");
        }
        return keysAndValues;
    }

    @Override
    public void close() {
        manager.close();
    }
}
