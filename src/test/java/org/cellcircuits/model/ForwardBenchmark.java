package org.cellcircuits.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.cellcircuits.io.SafetensorsReader;

/**
 * Java side of jobs/bench/forward: loads the checkpoint the Python side wrote, checks our last-token logits against
 * the reference's, and times forward passes that keep every layer's MLP input and output (what harvest keeps) and
 * compute full logits (what the PyTorch side computes).
 *
 * <p>usage: ForwardBenchmark MODEL_DIR INPUT_SAFETENSORS ITERS
 */
public final class ForwardBenchmark {

    private ForwardBenchmark() {}

    /** GFLOP/s of large square fp32 matmuls through the same engine: the ceiling a transformer forward can approach. */
    static double peakMatmulGflops(NDManager manager) {
        int n = 1024;
        try (NDManager m = manager.newSubManager()) {
            NDArray a = m.randomNormal(new ai.djl.ndarray.types.Shape(n, n));
            NDArray b = m.randomNormal(new ai.djl.ndarray.types.Shape(n, n));
            a.matMul(b).close();
            int reps = 0;
            long start = System.nanoTime();
            while (System.nanoTime() - start < 2_000_000_000L) {
                a.matMul(b).close();
                reps++;
            }
            return 2.0 * n * n * n * reps / ((System.nanoTime() - start) / 1e9) / 1e9;
        }
    }

    public static void main(String[] args) {
        Path modelDir = Path.of(args[0]);
        Path input = Path.of(args[1]);
        int iters = Integer.parseInt(args[2]);
        try (GptNeoX model = GptNeoX.load(modelDir, Device.cpu());
                SafetensorsReader in = SafetensorsReader.open(input);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            long[] shape = in.info("input_ids").shape();
            int b = (int) shape[0];
            int t = (int) shape[1];
            long[] flat = in.readLongs("input_ids");
            long[][] ids = new long[b][t];
            long[][] mask = new long[b][t];
            for (int i = 0; i < b; i++) {
                System.arraycopy(flat, i * t, ids[i], 0, t);
                java.util.Arrays.fill(mask[i], 1);
            }
            TokenBatch batch = TokenBatch.of(ids, mask);
            NeoXConfig c = model.config();
            List<String> keep = new ArrayList<>();
            for (int l = 0; l < c.numLayers(); l++) {
                keep.add(HookNames.mlpIn(l));
                keep.add(HookNames.mlpOut(l));
            }
            ForwardOptions options = ForwardOptions.logitsOnly().keeping(keep);

            double maxDiff;
            try (ActivationCache cache = model.run(manager, batch, options)) { // also the warm-up
                NDArray last = cache.logits().get(":, -1, :");
                float[] ours = last.toFloatArray();
                float[] ref = in.readFloats("last_logits");
                maxDiff = 0;
                for (int i = 0; i < ours.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i]));
                }
            }
            double checksum = 0;
            double best = Double.MAX_VALUE;
            double total = 0;
            for (int it = 0; it < iters; it++) {
                long start = System.nanoTime();
                try (ActivationCache cache = model.run(manager, batch, options)) {
                    checksum += cache.get(HookNames.mlpOut(c.numLayers() - 1)).getFloat(0, 0, 0);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                best = Math.min(best, seconds); // best of ITERS: the pass least disturbed by other processes
                total += seconds;
            }
            System.out.printf("PEAK matmul_gflops=%.1f (1024x1024 fp32 matmul in DJL, the machine's practical FLOP limit)%n", peakMatmulGflops(manager));
            double tokens = (double) b * t;
            double d = c.hiddenSize();
            // matmul FLOPs per token: per layer QKV 6d^2, out 2d^2, MLP 4*d*d_mlp, scores+mix 4*T*d; unembedding 2*d*V
            double flopsPerToken = c.numLayers() * (8 * d * d + 4 * d * c.intermediateSize() + 4.0 * t * d) + 2 * d * c.vocabSize();
            System.out.printf("OURS tokens_per_s=%.1f best_seconds=%.3f mean_seconds=%.3f gflops=%.1f max_abs_diff_vs_torch=%.2e checksum=%.3f%n",
                    tokens / best, best, total / iters, tokens * flopsPerToken / best / 1e9, maxDiff, checksum);
        }
    }
}
