package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;

/**
 * Synthetic activations that a transcoder can fit exactly: each row draws sparse non-negative codes s (each of
 * {@code features} true features active with probability {@code p}, magnitude uniform in [0.5, 1.5]), then
 * x = s A^T with orthonormal columns of A (so ReLU(A^T x) = s recovers the codes) and y = s D + c. An SAE target is
 * x itself. Rows come from one seeded generator, so the stream is the same every time it is built.
 */
final class SparseLinearData implements TrainingBatches {

    final int dIn;
    final int dOut;
    final int features;
    final double p;
    final float[] a; // [dIn, features], orthonormal columns
    final float[] d; // [features, dOut], rows of norm 1
    final float[] c; // [dOut]
    final boolean autoencoder;
    private final int batchSize;
    private final Random rows;
    private long seen;
    private long activeCodes;
    /** Row at which to plant a NaN in the input (column 2), or -1. */
    long nanAtRow = -1;

    SparseLinearData(int dIn, int dOut, int features, double p, boolean autoencoder, int batchSize, long seed) {
        this.dIn = dIn;
        this.dOut = autoencoder ? dIn : dOut;
        this.features = features;
        this.p = p;
        this.autoencoder = autoencoder;
        this.batchSize = batchSize;
        Random r = new Random(seed);
        this.a = orthonormalColumns(r, dIn, features);
        this.d = new float[features * this.dOut];
        for (int i = 0; i < features; i++) {
            double n = 0;
            double[] row = new double[this.dOut];
            for (int k = 0; k < this.dOut; k++) {
                row[k] = r.nextGaussian();
                n += row[k] * row[k];
            }
            for (int k = 0; k < this.dOut; k++) {
                d[i * this.dOut + k] = (float) (row[k] / Math.sqrt(n));
            }
        }
        this.c = new float[this.dOut];
        for (int k = 0; k < this.dOut; k++) {
            c[k] = (float) (0.3 * r.nextGaussian());
        }
        this.rows = new Random(seed * 31 + 7);
    }

    static float[] orthonormalColumns(Random r, int n, int k) {
        if (k > n) {
            throw new IllegalArgumentException("need features <= d_in for orthonormal columns");
        }
        double[][] cols = new double[k][n];
        for (int j = 0; j < k; j++) {
            for (int i = 0; i < n; i++) {
                cols[j][i] = r.nextGaussian();
            }
            for (int q = 0; q < j; q++) {
                double dot = 0;
                for (int i = 0; i < n; i++) {
                    dot += cols[j][i] * cols[q][i];
                }
                for (int i = 0; i < n; i++) {
                    cols[j][i] -= dot * cols[q][i];
                }
            }
            double norm = 0;
            for (int i = 0; i < n; i++) {
                norm += cols[j][i] * cols[j][i];
            }
            for (int i = 0; i < n; i++) {
                cols[j][i] /= Math.sqrt(norm);
            }
        }
        float[] out = new float[n * k];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                out[i * k + j] = (float) cols[j][i];
            }
        }
        return out;
    }

    /** Mean number of active codes per row over everything generated so far: the true L0. */
    double trueL0() {
        return (double) activeCodes / seen;
    }

    @Override
    public TrainingBatch next(NDManager manager) {
        float[] x = new float[batchSize * dIn];
        float[] y = new float[batchSize * dOut];
        for (int b = 0; b < batchSize; b++) {
            double[] s = new double[features];
            for (int i = 0; i < features; i++) {
                if (rows.nextDouble() < p) {
                    s[i] = 0.5 + rows.nextDouble();
                    activeCodes++;
                }
            }
            for (int j = 0; j < dIn; j++) {
                double v = 0;
                for (int i = 0; i < features; i++) {
                    v += s[i] * a[j * features + i];
                }
                x[b * dIn + j] = (float) v;
            }
            for (int k = 0; k < dOut; k++) {
                double v = c[k];
                for (int i = 0; i < features; i++) {
                    v += s[i] * d[i * dOut + k];
                }
                y[b * dOut + k] = (float) v;
            }
            if (seen + b == nanAtRow) {
                x[b * dIn + 2] = Float.NaN;
            }
        }
        long first = seen;
        seen += batchSize;
        NDArray in = manager.create(x, new Shape(batchSize, dIn));
        if (autoencoder) {
            return TrainingBatch.autoencoding(in, i -> "synthetic row " + (first + i));
        }
        return new TrainingBatch(in, manager.create(y, new Shape(batchSize, dOut)), i -> "synthetic row " + (first + i));
    }

    @Override
    public long tokensSeen() {
        return seen;
    }
}
