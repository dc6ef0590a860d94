package org.cellcircuits.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * AdamW (Loshchilov and Hutter; {@code torch.optim.AdamW}'s update) over a map of named parameters, updated in
 * place after a backward pass:
 * <pre>
 *   g = scale * grad
 *   m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
 *   p = p (1 - lr wd)                     (only parameters {@code decayed} accepts)
 *   p = p - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * </pre>
 *
 * <p>Written over NDArrays rather than using DJL's {@code ai.djl.training.optimizer.AdamW} because that one works
 * with DJL's {@code Parameter} objects, applies one weight decay to every parameter (GPT training leaves biases and
 * LayerNorm parameters undecayed), and clips gradients per element instead of by their global norm; the project's
 * GPT-NeoX holds plain named arrays.
 *
 * <p>The moments live in a sub-manager of the first parameter's manager; {@link #close()} frees them.
 */
public final class AdamW implements AutoCloseable {

    private final Map<String, NDArray> parameters;
    private final Map<String, NDArray> firstMoment = new LinkedHashMap<>();
    private final Map<String, NDArray> secondMoment = new LinkedHashMap<>();
    private final Predicate<String> decayed;
    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final double weightDecay;
    private final NDManager state;
    private long steps;

    /**
     * @param parameters name -> array, each with {@code setRequiresGradient(true)} already called
     * @param decayed which parameter names get weight decay
     */
    public AdamW(Map<String, NDArray> parameters, double beta1, double beta2, double epsilon, double weightDecay,
            Predicate<String> decayed) {
        if (parameters.isEmpty()) {
            throw new IllegalArgumentException("AdamW needs at least one parameter");
        }
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            if (!e.getValue().hasGradient()) {
                throw new IllegalArgumentException(String.format(
                        "parameter %s does not require a gradient; call setRequiresGradient(true) before building the optimizer", e.getKey()));
            }
        }
        this.parameters = new LinkedHashMap<>(parameters);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.weightDecay = weightDecay;
        this.decayed = decayed;
        this.state = parameters.values().iterator().next().getManager().newSubManager();
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            firstMoment.put(e.getKey(), state.zeros(e.getValue().getShape(), e.getValue().getDataType()));
            secondMoment.put(e.getKey(), state.zeros(e.getValue().getShape(), e.getValue().getDataType()));
        }
    }

    /** The rule GPT-2/nanoGPT training uses: matrices (embeddings, projections) decay, vectors do not. */
    public static Predicate<String> matricesOnly(Map<String, NDArray> parameters) {
        return name -> parameters.get(name).getShape().dimension() >= 2;
    }

    /** L2 norm of all current gradients together (what clipping compares with its limit). */
    public double gradientNorm() {
        double sumSquares = 0;
        try (NDManager scratch = state.newSubManager()) {
            for (NDArray p : parameters.values()) {
                NDArray g = p.getGradient();
                g.attach(scratch);
                sumSquares += g.square().sum().getFloat();
            }
        }
        return Math.sqrt(sumSquares);
    }

    /**
     * One update with the gradients the last backward pass left, each multiplied by {@code gradientScale} first
     * (clipping); then the gradients are zeroed for the next pass.
     */
    public void step(double learningRate, double gradientScale) {
        steps++;
        double correction1 = 1 - Math.pow(beta1, steps);
        double correction2 = 1 - Math.pow(beta2, steps);
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            String name = e.getKey();
            NDArray p = e.getValue();
            NDArray m = firstMoment.get(name);
            NDArray v = secondMoment.get(name);
            // Results of NDArray operations land in the first operand's manager; every temporary is put in
            // scratch so nothing accumulates in the model's or the optimizer's manager over thousands of steps.
            try (NDManager scratch = state.newSubManager()) {
                NDArray grad = p.getGradient();
                grad.attach(scratch);
                NDArray g = grad.mul(gradientScale);
                m.muli(beta1).addi(g.mul(1 - beta1));
                v.muli(beta2).addi(g.square().mul(1 - beta2));
                if (weightDecay > 0 && decayed.test(name)) {
                    p.muli(1 - learningRate * weightDecay);
                }
                NDArray denominator = v.div(correction2);
                denominator.attach(scratch);
                denominator = denominator.sqrt().add(epsilon);
                NDArray update = m.div(denominator);
                update.attach(scratch);
                p.subi(update.mul(learningRate / correction1));
                grad.subi(grad);
            }
        }
    }

    /** Updates done so far (the t of the bias corrections). */
    public long steps() {
        return steps;
    }

    @Override
    public void close() {
        state.close();
    }
}
