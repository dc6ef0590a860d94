package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDArray;
import java.util.Objects;
import java.util.function.IntFunction;

/**
 * One step's data: row i of {@code input} (the MLP input x) goes with row i of {@code target} (the MLP output for a
 * transcoder; the same x for an SAE, where both may be the same array). Unscaled: the trainer applies its scales.
 *
 * @param input   (rows, d_in) float32
 * @param target  (rows, d_out) float32
 * @param rowName names row i in errors (e.g. "cell C123 token 17 of part-00003.parquet")
 */
public record TrainingBatch(NDArray input, NDArray target, IntFunction<String> rowName) {

    public TrainingBatch {
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(rowName, "rowName");
        if (input.getShape().dimension() != 2 || target.getShape().dimension() != 2) {
            throw new IllegalArgumentException(String.format(
                    "a training batch holds (rows, width) matrices; got input %s and target %s",
                    input.getShape(), target.getShape()));
        }
        if (input.getShape().get(0) != target.getShape().get(0)) {
            throw new IllegalArgumentException(String.format(
                    "training batch has %d input rows but %d target rows; row i of each must belong together",
                    input.getShape().get(0), target.getShape().get(0)));
        }
        if (input.getShape().get(0) == 0) {
            throw new IllegalArgumentException("training batch has no rows");
        }
    }

    /** A batch whose rows are named by their index in it. */
    public TrainingBatch(NDArray input, NDArray target) {
        this(input, target, i -> "row " + i + " of the batch");
    }

    /** An SAE batch: the target is the input. */
    public static TrainingBatch autoencoding(NDArray input, IntFunction<String> rowName) {
        return new TrainingBatch(input, input, rowName);
    }

    public int rows() {
        return Math.toIntExact(input.getShape().get(0));
    }

    public long inputWidth() {
        return input.getShape().get(1);
    }

    public long targetWidth() {
        return target.getShape().get(1);
    }
}
