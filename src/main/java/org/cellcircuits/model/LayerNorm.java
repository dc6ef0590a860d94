package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * LayerNorm over d_model, computed in fp32 whatever the model's precision, with weight and bias kept in fp32.
 * Uses torch's fused kernel unless the caller wants the scale (1/sqrt(var+eps)) hooked or edited, which needs the
 * explicit formula (circuits freeze that scale to make the model linear).
 */
final class LayerNorm {

    final NDArray weight;
    final NDArray bias;
    final float eps;
    final String scaleHook;
    final String normalizedHook;

    LayerNorm(NDArray weight, NDArray bias, double eps, String scaleHook, String normalizedHook) {
        this.weight = weight;
        this.bias = bias;
        this.eps = (float) eps;
        this.scaleHook = scaleHook;
        this.normalizedHook = normalizedHook;
    }

    /** x (B, T, C) -> (B, T, C) in x's dtype. */
    NDArray forward(NDArray x, HookContext hooks) {
        DataType type = x.getDataType();
        NDArray x32 = type == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        NDArray y;
        if (hooks.touches(scaleHook)) {
            NDArray centered = x32.sub(x32.mean(new int[] {-1}, true)); // (B, T, C)
            NDArray var = centered.square().mean(new int[] {-1}, true); // (B, T, 1), biased like torch
            NDArray scale = hooks.point(scaleHook, var.add(eps).pow(-0.5)); // (B, T, 1)
            y = centered.mul(scale).mul(weight).add(bias);
        } else {
            y = ai.djl.nn.norm.LayerNorm.layerNorm(x32, new Shape(x32.getShape().get(2)), weight, bias, eps)
                    .singletonOrThrow();
        }
        if (type != DataType.FLOAT32) {
            y = y.toType(type, false);
        }
        return hooks.point(normalizedHook, y);
    }
}
