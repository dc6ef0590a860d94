package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * Causal self-attention with GPT-NeoX's fused QKV projection. The 3*C output features are laid out per head as
 * [heads, 3, head_size] (q, k, v of head 0, then head 1, ...), not [3, heads, head_size] as in GPT-2.
 * Checkpoint names: {@code attention.query_key_value.*}, {@code attention.dense.*}.
 */
final class Attention {

    final NDArray qkvWeight; // (3C, C)
    final NDArray qkvBias; // (3C) or null
    final NDArray denseWeight; // (C, C)
    final NDArray denseBias; // (C) or null
    final int numHeads;
    final int headSize;
    final Rotary rotary;
    final String patternHook;

    Attention(NDArray qkvWeight, NDArray qkvBias, NDArray denseWeight, NDArray denseBias, NeoXConfig config,
            Rotary rotary, int layer) {
        this.qkvWeight = qkvWeight;
        this.qkvBias = qkvBias;
        this.denseWeight = denseWeight;
        this.denseBias = denseBias;
        this.numHeads = config.numHeads();
        this.headSize = config.headSize();
        this.rotary = rotary;
        this.patternHook = HookNames.attnPattern(layer);
    }

    /**
     * @param x (B, T, C) normalized input
     * @param maskBias (B, 1, T, T) fp32: 0 where query t may attend key s (s <= t and s is a real token), a large
     *     negative number elsewhere
     * @param cos (B, 1, T, rot) and {@code sin}: rotary tables at each token's position
     * @param kv keys/values of earlier tokens to attend to as well (then maskBias is (B, 1, T, S + T)), updated
     *     with this call's; null for a plain forward
     * @param layer this attention's block, to find its entry in {@code kv}
     */
    NDArray forward(NDArray x, NDArray maskBias, NDArray cos, NDArray sin, HookContext hooks, KvCache kv, int layer) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        long c = x.getShape().get(2);
        int nh = numHeads;
        int hs = headSize;

        NDArray qkv = Ops.linear(x, qkvWeight, qkvBias).reshape(b, t, nh, 3, hs); // (B, T, nh, 3, hs)
        NDArray q = qkv.get(new NDIndex(":, :, :, 0")).transpose(0, 2, 1, 3); // (B, nh, T, hs)
        NDArray k = qkv.get(new NDIndex(":, :, :, 1")).transpose(0, 2, 1, 3); // (B, nh, T, hs)
        NDArray v = qkv.get(new NDIndex(":, :, :, 2")).transpose(0, 2, 1, 3); // (B, nh, T, hs)
        q = rotary.apply(q, cos, sin);
        k = rotary.apply(k, cos, sin);
        if (kv != null) {
            if (kv.keys[layer] != null) {
                NDArray[] filled = kv.append(layer, k, v); // (B, nh, S + T, hs) each
                k = filled[0];
                v = filled[1];
            } else {
                kv.put(layer, k, v);
            }
        }

        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul(1.0 / Math.sqrt(hs)); // (B, nh, T, S + T)
        DataType type = scores.getDataType();
        NDArray scores32 = type == DataType.FLOAT32 ? scores : scores.toType(DataType.FLOAT32, false);
        NDArray pattern = scores32.add(maskBias).softmax(-1); // (B, nh, T, T), softmax in fp32
        if (type != DataType.FLOAT32) {
            pattern = pattern.toType(type, false);
        }
        pattern = hooks.point(patternHook, pattern);

        NDArray z = pattern.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, c); // (B, nh, T, hs) -> (B, T, C)
        return Ops.linear(z, denseWeight, denseBias);
    }
}
