package org.cellcircuits.transcoder;

import java.io.Serializable;

/**
 * The per-layer constants that bring activations to a standard size during training: x is multiplied by
 * {@code input} so that mean ||s_in x||^2 = d_in, the target by {@code target} so that mean ||s_out y||^2 = d_out
 * (Anthropic's April 2024 update; SAELens's {@code ActivationScaler}, {@code sae_lens/training/activation_scaler.py},
 * uses sqrt(d_in) / mean ||x|| instead, which equals ours when all norms are equal). Standard sizes make lambda and
 * lr mean the same at every layer.
 *
 * <p>Folding them into the weights (W_enc * s_in, W_dec / s_out, b_dec / s_out; SAELens's
 * {@code fold_activation_norm_scaling_factor} with separate input and output factors) gives a transcoder that reads
 * raw MLP inputs and writes raw MLP outputs, with the same feature activations z. Saved transcoders are folded, so
 * SAELens, circuit-tracer and our circuits code use them with no extra step; the factors stay in cfg.json as a
 * record.
 *
 * @param input  s_in (> 0)
 * @param target s_out (> 0)
 * @param folded whether the weights already carry the factors (then forward passes apply nothing)
 */
public record ActivationScaling(double input, double target, boolean folded) implements Serializable {

    private static final long serialVersionUID = 1L;

    public ActivationScaling {
        if (!(input > 0) || Double.isInfinite(input) || !(target > 0) || Double.isInfinite(target)) {
            throw new IllegalArgumentException(String.format(
                    "activation scaling factors must be finite and > 0; got input %s, target %s", input, target));
        }
    }

    /** The same factors, marked as folded into the weights. */
    public ActivationScaling asFolded() {
        return new ActivationScaling(input, target, true);
    }

    /**
     * The factor that gives rows of width {@code width} a mean squared norm of {@code width}:
     * sqrt(width / (sumSquaredNorms / rows)).
     */
    static double factor(double sumSquaredNorms, long rows, int width, String what) {
        double meanSq = sumSquaredNorms / rows;
        if (!(meanSq > 0) || Double.isInfinite(meanSq)) {
            throw new IllegalArgumentException(String.format(
                    "cannot scale %s: its mean squared norm over %d rows is %s; need a finite value > 0 "
                            + "(all-zero or overflowing activations?)", what, rows, meanSq));
        }
        return Math.sqrt(width / meanSq);
    }
}
