package org.cellcircuits.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * AdamW (Loshchilov and Hutter) with the update of {@code torch.optim.AdamW}, which with weight decay 0 is
 * {@code torch.optim.Adam}'s (no amsgrad):
 *
 * <pre>
 *   t += 1;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p = p (1 - lr wd)                                          (only parameters {@code decayed} accepts)
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * </pre>
 *
 * The transcoder trainer ({@link #adam}) passes gradients it computed itself; the model trainer
 * ({@link #forParameters}) lets autograd leave them on the parameters and scales them first (clipping by the global
 * norm, {@link #gradientNorm}). The bias correction is torch's form, sqrt(v) / sqrt(1 - b2^t), in both.
 *
 * <p>Written over NDArrays rather than using DJL's optimisers: their moments sit in private maps keyed by parameter
 * id and device, so they can be neither checkpointed nor reset for one resampled transcoder feature; DJL's AdamW
 * applies one weight decay to every parameter (GPT training leaves biases and LayerNorm parameters undecayed) and
 * clips per element, not by the global norm. The step counter t is shared by all parameters and not reset when
 * moments are zeroed (as in Anthropic's resampling, which zeroes only the moments).
 *
 * <p>Moments are float32 in a sub-manager of the one given; {@link #close()} frees them.
 */
public final class AdamW implements AutoCloseable {

    private final List<String> names;
    private final boolean[] decayed;
    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final double weightDecay;
    private final NDManager manager;
    private final List<NDArray> firstMoments = new ArrayList<>();
    private final List<NDArray> secondMoments = new ArrayList<>();
    private long step;

    /**
     * Zero moments for parameters of these names and shapes, in the map's order (the order {@link #update} takes
     * them in).
     *
     * @param decayed which parameter names get weight decay
     */
    public AdamW(NDManager parent, Map<String, Shape> shapes, double beta1, double beta2, double epsilon,
            double weightDecay, Predicate<String> decayed) {
        if (shapes.isEmpty()) {
            throw new IllegalArgumentException("AdamW needs at least one parameter");
        }
        this.names = List.copyOf(shapes.keySet());
        this.decayed = new boolean[names.size()];
        for (int i = 0; i < names.size(); i++) {
            this.decayed[i] = weightDecay > 0 && decayed.test(names.get(i));
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.weightDecay = weightDecay;
        this.manager = parent.newSubManager();
        for (Shape s : shapes.values()) {
            firstMoments.add(manager.zeros(s, DataType.FLOAT32));
            secondMoments.add(manager.zeros(s, DataType.FLOAT32));
        }
    }

    /** Adam (weight decay 0) for parameters of these shapes, named by their position. */
    public static AdamW adam(NDManager parent, List<Shape> shapes, double beta1, double beta2, double epsilon) {
        Map<String, Shape> named = new LinkedHashMap<>();
        for (int i = 0; i < shapes.size(); i++) {
            named.put(Integer.toString(i), shapes.get(i));
        }
        return new AdamW(parent, named, beta1, beta2, epsilon, 0, name -> false);
    }

    /**
     * For float32 parameters trained by autograd, updated by {@link #step}; the moments live beside the first
     * parameter.
     *
     * @param parameters name -> array, each with {@code setRequiresGradient(true)} already called
     * @param decayed which parameter names get weight decay
     */
    public static AdamW forParameters(Map<String, NDArray> parameters, double beta1, double beta2, double epsilon,
            double weightDecay, Predicate<String> decayed) {
        if (parameters.isEmpty()) {
            throw new IllegalArgumentException("AdamW needs at least one parameter");
        }
        Map<String, Shape> shapes = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            if (!e.getValue().hasGradient()) {
                throw new IllegalArgumentException(String.format("parameter %s does not require a gradient; call "
                        + "setRequiresGradient(true) before building the optimizer", e.getKey()));
            }
            if (e.getValue().getDataType() != DataType.FLOAT32) {
                throw new IllegalArgumentException(String.format("parameter %s is %s; the optimizer needs float32",
                        e.getKey(), e.getValue().getDataType()));
            }
            shapes.put(e.getKey(), e.getValue().getShape());
        }
        NDManager home = parameters.values().iterator().next().getManager();
        return new AdamW(home, shapes, beta1, beta2, epsilon, weightDecay, decayed);
    }

    /** The rule GPT-2/nanoGPT training uses: matrices (embeddings, projections) decay, vectors do not. */
    public static Predicate<String> matricesOnly(Map<String, NDArray> parameters) {
        return name -> parameters.get(name).getShape().dimension() >= 2;
    }

    /** L2 norm of the gradients autograd left on these parameters, all together (what clipping compares). */
    public static double gradientNorm(Collection<NDArray> parameters) {
        double sumSquares = 0;
        for (NDArray p : parameters) {
            try (NDManager scratch = p.getManager().newSubManager()) {
                NDArray g = p.getGradient();
                g.attach(scratch);
                sumSquares += g.square().sum().getFloat();
            }
        }
        return Math.sqrt(sumSquares);
    }

    /** Updates applied so far (the t of the bias corrections). */
    public long steps() {
        return step;
    }

    /** Parameter {@code i}'s first moment, live: resampling zeroes parts of it. */
    public NDArray firstMoment(int i) {
        return firstMoments.get(i);
    }

    /** Parameter {@code i}'s second moment, live. */
    public NDArray secondMoment(int i) {
        return secondMoments.get(i);
    }

    /** Puts back a checkpointed state: t and every parameter's moments, in order. */
    public void restore(long t, List<float[]> first, List<float[]> second) {
        if (first.size() != firstMoments.size() || second.size() != secondMoments.size()) {
            throw new IllegalArgumentException(String.format("optimizer state for %d and %d parameters; have %d",
                    first.size(), second.size(), firstMoments.size()));
        }
        for (int i = 0; i < first.size(); i++) {
            firstMoments.get(i).set(first.get(i));
            secondMoments.get(i).set(second.get(i));
        }
        this.step = t;
    }

    /** One update of every parameter in place, in the constructor's order; {@code gradients} of the mean loss. */
    public void update(List<NDArray> parameters, List<NDArray> gradients, double lr) {
        if (parameters.size() != firstMoments.size() || gradients.size() != firstMoments.size()) {
            throw new IllegalArgumentException(String.format(
                    "optimizer holds %d parameters; got %d parameters and %d gradients", firstMoments.size(),
                    parameters.size(), gradients.size()));
        }
        step++;
        double stepSize = lr / (1 - Math.pow(beta1, step));
        double correction2 = Math.sqrt(1 - Math.pow(beta2, step));
        try (NDManager scratch = manager.newSubManager()) {
            // Results of NDArray operations land in the first operand's manager; attaching every operand to scratch
            // for the update keeps thousands of steps' temporaries out of the parameters' and moments' managers.
            List<NDArray> all = new ArrayList<>(parameters);
            all.addAll(gradients);
            all.addAll(firstMoments);
            all.addAll(secondMoments);
            ScratchArrays.attachTemporarily(scratch, all);
            for (int i = 0; i < parameters.size(); i++) {
                NDArray g = gradients.get(i);
                NDArray p = parameters.get(i);
                NDArray m = firstMoments.get(i).muli(beta1).addi(g.mul(1 - beta1));
                NDArray v = secondMoments.get(i).muli(beta2).addi(g.square().muli(1 - beta2));
                if (decayed[i]) {
                    p.muli(1 - lr * weightDecay);
                }
                NDArray denominator = v.sqrt().divi(correction2).addi(epsilon);
                p.subi(m.div(denominator).muli(stepSize));
            }
        }
    }

    /**
     * One update with the gradients autograd left on {@code parameters} (the constructor's names, in its order), each
     * multiplied by {@code gradientScale} first (clipping); then the gradients are zeroed for the next pass.
     */
    public void step(Map<String, NDArray> parameters, double lr, double gradientScale) {
        if (!names.equals(List.copyOf(parameters.keySet()))) {
            throw new IllegalArgumentException(String.format("optimizer was built for parameters %s; got %s", names,
                    parameters.keySet()));
        }
        try (NDManager scratch = manager.newSubManager()) {
            List<NDArray> raw = new ArrayList<>();
            List<NDArray> scaled = new ArrayList<>();
            for (NDArray p : parameters.values()) {
                NDArray grad = p.getGradient();
                grad.attach(scratch);
                raw.add(grad);
                scaled.add(grad.mul(gradientScale));
            }
            update(List.copyOf(parameters.values()), scaled, lr);
            for (NDArray grad : raw) {
                grad.subi(grad);
            }
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
