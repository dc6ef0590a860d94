package org.cellcircuits.transcoder;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.util.Locale;
import java.util.Random;

/**
 * Prints single-worker training throughput on CPU: tokens/s of {@link TranscoderTrainer#step} at d_in = d_out = 128,
 * 8x expansion (d_sae 1024), 4096 tokens a step, with the time split into gradients (forward + backward + copy out)
 * and apply (copy in + Adam). Gaussian data cycled from memory, so the data source costs nothing. Not a test:
 * timings are never asserted.
 *
 * <p>usage: TrainerThroughput [D_IN] [EXPANSION] [BATCH] [STEPS]; libtorch threads from -Dai.djl.pytorch.num_threads
 */
public final class TrainerThroughput {

    private TrainerThroughput() {}

    /** Milliseconds per step of just the five products of a step, same shapes: the floor of a step's time. */
    static double matmulsOnly(NDManager parent, int batch, int dIn, int dSae, int reps) {
        try (NDManager m = parent.newSubManager()) {
            var x = m.randomNormal(new ai.djl.ndarray.types.Shape(batch, dIn));
            var wEnc = m.randomNormal(new ai.djl.ndarray.types.Shape(dIn, dSae));
            var wDec = m.randomNormal(new ai.djl.ndarray.types.Shape(dSae, dIn));
            long start = 0;
            for (int r = -2; r < reps; r++) {
                if (r == 0) {
                    start = System.nanoTime();
                }
                try (NDManager s = m.newSubManager()) {
                    var z = x.matMul(wEnc);
                    z.attach(s);
                    var y = z.matMul(wDec);
                    y.attach(s);
                    z.transpose().matMul(y).attach(s);
                    y.matMul(wDec.transpose()).attach(s);
                    x.transpose().matMul(z).attach(s);
                }
            }
            return (System.nanoTime() - start) / 1e6 / reps;
        }
    }

    public static void main(String[] args) {
        int dIn = args.length > 0 ? Integer.parseInt(args[0]) : 128;
        int expansion = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : 4096;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 40;
        int warmUp = 5;
        int batches = 8;
        Random r = new Random(1);
        float[] x = new float[batches * batch * dIn];
        float[] y = new float[batches * batch * dIn];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
            y[i] = (float) r.nextGaussian();
        }
        TranscoderConfig c = TranscoderConfig.builder().modelName("throughput").layer(0).dIn(dIn).dOut(dIn)
                .expansionFactor(expansion).trainBatchSizeTokens(batch).trainingTokens((long) batch * (warmUp + steps))
                .lrWarmUpSteps(0).lrDecaySteps(0).l1WarmUpSteps(0).resampleDeadFeatures(false)
                .inputScale(1.0).targetScale(1.0).build();
        ArrayBatches data = new ArrayBatches(x, y, dIn, dIn, batch, true, "gaussian");
        try (TranscoderTrainer t = TranscoderTrainer.create(c, Device.cpu());
                NDManager m = NDManager.newBaseManager()) {
            for (int s = 0; s < warmUp; s++) {
                try (NDManager step = m.newSubManager()) {
                    t.step(data.next(step));
                }
            }
            long gradNanos = 0;
            long applyNanos = 0;
            long start = System.nanoTime();
            for (int s = 0; s < steps; s++) {
                try (NDManager step = m.newSubManager()) {
                    TrainingBatch b = data.next(step);
                    long t0 = System.nanoTime();
                    Gradients g = t.gradients(b);
                    long t1 = System.nanoTime();
                    t.apply(g);
                    gradNanos += t1 - t0;
                    applyNanos += System.nanoTime() - t1;
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            double matmulMs = matmulsOnly(m, batch, dIn, c.dSae(), 10);
            double flops = 2.0 * batch * dIn * c.dSae() * 5; // encode, decode, dW_dec, dz, dW_enc matmuls
            System.out.printf(Locale.ROOT,
                    "TRAIN d_in=%d d_sae=%d batch=%d steps=%d tokens_per_s=%.0f ms_per_step=%.1f gradients_ms=%.1f "
                            + "apply_ms=%.1f matmul_gflops=%.1f the_5_matmuls_alone_ms=%.1f threads=%d%n",
                    dIn, c.dSae(), batch, steps, (double) batch * steps / seconds, 1000 * seconds / steps,
                    gradNanos / 1e6 / steps, applyNanos / 1e6 / steps, flops * steps / seconds / 1e9, matmulMs,
                    ai.djl.pytorch.jni.JniUtils.getNumThreads());
        }
    }
}
