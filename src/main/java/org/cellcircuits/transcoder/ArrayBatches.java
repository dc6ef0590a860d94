package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.FloatBuffer;

/**
 * Batches cut in order from row-major float arrays held in memory (tests, benchmarks, small demos); the last batch
 * may be short. With {@code cycle} the rows repeat forever.
 */
public final class ArrayBatches implements TrainingBatches {

    private final float[] inputs;
    private final float[] targets; // null: autoencoding, target = input
    private final int dIn;
    private final int dOut;
    private final int rows;
    private final int batchSize;
    private final boolean cycle;
    private final String name;
    private long seen;

    /**
     * @param inputs    rows x dIn values, row-major
     * @param targets   rows x dOut values, or null for an SAE (the target is the input)
     * @param batchSize rows per batch (>= 1)
     * @param name      names the data in error messages
     */
    public ArrayBatches(float[] inputs, float[] targets, int dIn, int dOut, int batchSize, boolean cycle, String name) {
        if (dIn < 1 || dOut < 1 || batchSize < 1) {
            throw new IllegalArgumentException(String.format(
                    "%s: d_in %d, d_out %d and batch size %d must all be >= 1", name, dIn, dOut, batchSize));
        }
        if (inputs.length % dIn != 0) {
            throw new IllegalArgumentException(String.format(
                    "%s: %d input values are not whole rows of %d", name, inputs.length, dIn));
        }
        this.rows = inputs.length / dIn;
        if (targets != null && targets.length != (long) rows * dOut) {
            throw new IllegalArgumentException(String.format(
                    "%s: %d target values for %d rows of width %d", name, targets.length, rows, dOut));
        }
        if (targets == null && dOut != dIn) {
            throw new IllegalArgumentException(String.format(
                    "%s: no targets (autoencoding) but d_out %d differs from d_in %d", name, dOut, dIn));
        }
        if (rows == 0) {
            throw new IllegalArgumentException(name + ": no rows");
        }
        this.inputs = inputs;
        this.targets = targets;
        this.dIn = dIn;
        this.dOut = dOut;
        this.batchSize = batchSize;
        this.cycle = cycle;
        this.name = name;
    }

    @Override
    public TrainingBatch next(NDManager manager) {
        long start = cycle ? seen % rows : seen;
        if (start >= rows) {
            return null;
        }
        int first = (int) start;
        int n = Math.min(batchSize, rows - first);
        var in = manager.create(FloatBuffer.wrap(inputs, first * dIn, n * dIn), new Shape(n, dIn));
        var out = targets == null ? in : manager.create(FloatBuffer.wrap(targets, first * dOut, n * dOut), new Shape(n, dOut));
        seen += n;
        return new TrainingBatch(in, out, i -> String.format("row %d of %s", first + i, name));
    }

    @Override
    public long tokensSeen() {
        return seen;
    }
}
