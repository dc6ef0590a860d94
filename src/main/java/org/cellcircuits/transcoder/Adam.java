package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * Adam with torch.optim.Adam's update (no weight decay, no amsgrad):
 *
 * <pre>
 *   t += 1;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * </pre>
 * Written over NDArrays rather than using DJL's {@code Optimizer.adam()}, whose moments sit in private maps keyed by
 * parameter id and device: they can be neither checkpointed nor reset for one resampled feature, and both are needed
 * here. The step counter t is shared by all parameters and is not reset by resampling (as in Anthropic's procedure,
 * which zeroes only the moments).
 */
final class Adam implements AutoCloseable {

    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final NDManager manager;
    private final List<NDArray> firstMoments = new ArrayList<>();
    private final List<NDArray> secondMoments = new ArrayList<>();
    private long step;

    /** Zero moments for parameters of these shapes. */
    Adam(NDManager parent, List<Shape> shapes, double beta1, double beta2, double epsilon) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.manager = parent.newSubManager();
        for (Shape s : shapes) {
            firstMoments.add(manager.zeros(s, DataType.FLOAT32));
            secondMoments.add(manager.zeros(s, DataType.FLOAT32));
        }
    }

    /** Updates applied so far (t). */
    long step() {
        return step;
    }

    void restore(long t, List<float[]> first, List<float[]> second) {
        if (first.size() != firstMoments.size() || second.size() != secondMoments.size()) {
            throw new IllegalArgumentException("Adam state for " + first.size() + " parameters; have "
                    + firstMoments.size());
        }
        for (int i = 0; i < first.size(); i++) {
            firstMoments.get(i).set(first.get(i));
            secondMoments.get(i).set(second.get(i));
        }
        this.step = t;
    }

    NDArray firstMoment(int parameter) {
        return firstMoments.get(parameter);
    }

    NDArray secondMoment(int parameter) {
        return secondMoments.get(parameter);
    }

    /** One update of every parameter in place; {@code gradients} are gradients of the mean loss. */
    void update(List<NDArray> parameters, List<NDArray> gradients, double lr) {
        if (parameters.size() != firstMoments.size() || gradients.size() != firstMoments.size()) {
            throw new IllegalArgumentException(String.format("Adam holds %d parameters; got %d parameters and %d gradients",
                    firstMoments.size(), parameters.size(), gradients.size()));
        }
        step++;
        double stepSize = lr / (1 - Math.pow(beta1, step));
        double correction2 = Math.sqrt(1 - Math.pow(beta2, step));
        try (NDManager scratch = manager.newSubManager()) {
            List<NDArray> all = new ArrayList<>(parameters);
            all.addAll(gradients);
            all.addAll(firstMoments);
            all.addAll(secondMoments);
            TranscoderLoss.attachTemporarily(scratch, all.toArray(new NDArray[0]));
            for (int i = 0; i < parameters.size(); i++) {
                NDArray g = gradients.get(i);
                NDArray m = firstMoments.get(i).muli(beta1).addi(g.mul(1 - beta1));
                NDArray v = secondMoments.get(i).muli(beta2).addi(g.square().muli(1 - beta2));
                NDArray denominator = v.sqrt().divi(correction2).addi(epsilon);
                parameters.get(i).subi(m.div(denominator).muli(stepSize));
            }
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
