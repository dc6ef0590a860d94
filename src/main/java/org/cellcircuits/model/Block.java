package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;

/** One transformer block (checkpoint prefix {@code gpt_neox.layers.L.}). */
final class Block {

    final int layer;
    final boolean parallelResidual;
    final LayerNorm ln1; // input_layernorm
    final Attention attn;
    final LayerNorm ln2; // post_attention_layernorm
    final Mlp mlp;

    Block(int layer, boolean parallelResidual, LayerNorm ln1, Attention attn, LayerNorm ln2, Mlp mlp) {
        this.layer = layer;
        this.parallelResidual = parallelResidual;
        this.ln1 = ln1;
        this.attn = attn;
        this.ln2 = ln2;
        this.mlp = mlp;
    }

    /** x (B, T, C) -> (B, T, C). */
    NDArray forward(NDArray x, NDArray maskBias, NDArray cos, NDArray sin, HookContext hooks) {
        x = hooks.point(HookNames.residPre(layer), x);
        NDArray attnOut = hooks.point(HookNames.attnOut(layer), attn.forward(ln1.forward(x, hooks), maskBias, cos, sin, hooks));
        if (parallelResidual) {
            // x + attn(ln1(x)) + mlp(ln2(x)): the MLP never sees this block's attention output.
            NDArray mlpOut = mlp(ln2.forward(x, hooks), hooks);
            x = x.add(attnOut).add(mlpOut);
        } else {
            NDArray mid = x.add(attnOut);
            x = mid.add(mlp(ln2.forward(mid, hooks), hooks));
        }
        return hooks.point(HookNames.residPost(layer), x);
    }

    private NDArray mlp(NDArray mlpIn, HookContext hooks) {
        MlpReplacement replacement = hooks.options.mlpReplacements().get(layer);
        NDArray out = replacement == null ? mlp.forward(mlpIn) : replacement.apply(mlpIn);
        if (!out.getShape().equals(mlpIn.getShape())) {
            throw new IllegalStateException(String.format(
                    "MLP replacement of block %d returned shape %s; expected %s", layer, out.getShape(), mlpIn.getShape()));
        }
        return hooks.point(HookNames.mlpOut(layer), out);
    }
}
