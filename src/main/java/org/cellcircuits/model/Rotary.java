package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding on the first {@code rot} dims of each head, GPT-NeoX convention: the rotated dims are
 * split in halves (x1, x2), rotate_half(x) = (-x2, x1), and x' = x cos + rotate_half(x) sin with
 * cos/sin = cos/sin(pos * inv_freq) repeated over both halves. The table is computed in float arithmetic the way
 * HF computes it, so angles at long positions round the same way.
 */
final class Rotary {

    final int rot;
    final int maxPositions;
    final NDArray cos; // (maxPositions, rot)
    final NDArray sin; // (maxPositions, rot)

    Rotary(NDManager manager, int rot, double base, int maxPositions, DataType type) {
        this.rot = rot;
        this.maxPositions = maxPositions;
        int half = rot / 2;
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / rot;
            invFreq[i] = 1.0f / (float) Math.pow(base, exponent);
        }
        float[] c = new float[maxPositions * rot];
        float[] s = new float[maxPositions * rot];
        for (int p = 0; p < maxPositions; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i];
                float cv = (float) Math.cos(angle);
                float sv = (float) Math.sin(angle);
                c[p * rot + i] = cv;
                c[p * rot + i + half] = cv;
                s[p * rot + i] = sv;
                s[p * rot + i + half] = sv;
            }
        }
        Shape shape = new Shape(maxPositions, rot);
        this.cos = manager.create(c, shape).toType(type, false);
        this.sin = manager.create(s, shape).toType(type, false);
    }

    /** cos and sin for positions (B, T) int64, each (B, 1, T, rot) ready to broadcast over heads. */
    NDArray[] tables(NDArray positions) {
        return new NDArray[] {Ops.rows(positions, cos).expandDims(1), Ops.rows(positions, sin).expandDims(1)};
    }

    /** x (B, nh, T, hs) with rotary applied to its first rot dims. */
    NDArray apply(NDArray x, NDArray cosBT, NDArray sinBT) {
        long hs = x.getShape().get(3);
        NDArray xRot = rot == hs ? x : x.get(new NDIndex("..., :" + rot)); // (B, nh, T, rot)
        NDArray x1 = xRot.get(new NDIndex("..., :" + rot / 2));
        NDArray x2 = xRot.get(new NDIndex("..., " + rot / 2 + ":"));
        NDArray rotated = x2.neg().concat(x1, -1); // rotate_half
        NDArray out = xRot.mul(cosBT).add(rotated.mul(sinBT));
        return rot == hs ? out : out.concat(x.get(new NDIndex("..., " + rot + ":")), -1);
    }
}
