package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;
import org.cellcircuits.optim.ScratchArrays;

/**
 * The training loss of one batch and its gradients, written out by hand, for every {@link Activation} and with or
 * without a skip connection. For scaled inputs xs (B, d_in) and targets ts (B, d_out), summed over the batch's rows:
 *
 * <pre>
 *   pre = xs W_enc + b_enc                       (B, d_sae)
 *   z   = pre * m                                m = the active set, 0/1 (B, d_sae):
 *         relu       m = [pre > 0]
 *         topk       m = [pre among the k largest of its row] [pre > 0]
 *         batchtopk  m = [pre among the k B largest of the batch] [pre > 0]
 *         jumprelu   m = [pre > theta],  theta = exp(log_threshold) (d_sae)
 *   y   = z W_dec + b_dec (+ xs W_skip^T)        e = y - ts          n_i = ||W_dec[i, :]||
 *   L   = sum_b ||e_b||^2 + lambda P + A
 *         P = sum_b sum_i z_bi n_i (relu: L1)   |  sum_b sum_i m_bi (jumprelu: L0)   |  0 (topk, batchtopk)
 *         A = AuxK (topk, batchtopk; below), else 0
 *
 *   dL/dy = 2e         dL/db_dec = sum_b 2e_b        dL/dW_dec = z^T 2e  (+ relu: lambda (sum_b z_bi / n_i) W_dec[i,:])
 *   dL/dW_skip = (2e)^T xs                            dL/dz = 2e W_dec^T  (+ relu: lambda n)
 *   dL/dpre = dL/dz * m    (the selection is piecewise constant; jumprelu: no straight-through term to pre, as
 *                           SAELens and circuit-tracer)
 *   dL/dW_enc = xs^T dL/dpre     dL/db_enc = sum_b dL/dpre_b
 *   jumprelu, the straight-through estimator with the rectangle kernel r_bi = [|pre_bi - theta_i| < eps / 2]
 *   (Rajamanoharan et al. 2024; SAELens {@code JumpReLU.backward} and {@code Step.backward}):
 *     dL/dtheta_i = sum_b r_bi (-(theta_i / eps) dL/dz_bi - lambda / eps)      dL/dlog_threshold = theta * dL/dtheta
 * </pre>
 * AuxK (Gao et al. 2024, B.1): among the features now dead, each row's k_aux = d_out / 2 largest positive
 * pre-activations a (the rest 0) predict the living features' miss r = ts - y (held constant):
 * {@code A = c s sum_b ||a_b W_dec - r_b||^2} with c the coefficient and s = min(dead / k_aux, 1); it adds
 * {@code a^T g} to dL/dW_dec and {@code (g W_dec^T) * [a > 0]} to dL/dpre, g = 2 c s (a W_dec - r).
 *
 * <p>ReLU's is the loss of Anthropic's April 2024 update and SAELens's standard SAE; summed instead of averaged so
 * that partitions' gradients add; the trainer divides by the token count.
 *
 * <p>Why by hand and not DJL autograd: DJL's PyTorch {@code GradientCollector} allows one collector per JVM (a
 * static flag), so two Spark tasks training two layers in one executor would collide; PyTorch accumulates .grad
 * and DJL's zeroGradients walks every array of the system manager; and JumpReLU's straight-through gradient is not
 * the derivative of its forward pass, which autograd would need a custom function for. The tests check every
 * gradient against central finite differences in float64 (the selection held fixed), ReLU's also against DJL
 * autograd, and the threshold's against a plain-Java transcription of the estimator.
 *
 * <p>Works in any float type (float64 in the gradient tests). All intermediate arrays are freed before returning;
 * the returned gradients live in {@code xs}'s manager.
 */
final class TranscoderLoss {

    /** Added below every living feature's pre-activation so that AuxK's top-k picks only dead ones. */
    private static final float EXCLUDED = -1e30f;

    private TranscoderLoss() {}

    /**
     * The trainable weights, in the trainer's order: W_enc, b_enc, W_dec, b_dec, then log_threshold (jumprelu) and
     * W_skip (skip connection) when the architecture has them, else null.
     */
    record Weights(NDArray wEnc, NDArray bEnc, NDArray wDec, NDArray bDec, NDArray logThreshold, NDArray wSkip) {

        List<NDArray> list() {
            List<NDArray> l = new ArrayList<>(List.of(wEnc, bEnc, wDec, bDec));
            if (logThreshold != null) {
                l.add(logThreshold);
            }
            if (wSkip != null) {
                l.add(wSkip);
            }
            return l;
        }

        static Weights of(List<NDArray> params, TranscoderArchitecture a) {
            int i = 4;
            NDArray t = a.activation() == Activation.JUMPRELU ? params.get(i++) : null;
            NDArray s = a.skipConnection() ? params.get(i++) : null;
            if (i != params.size()) {
                throw new IllegalArgumentException(String.format(
                        "%d weight arrays for architecture %s; it has %d", params.size(), a, i));
            }
            return new Weights(params.get(0), params.get(1), params.get(2), params.get(3), t, s);
        }
    }

    /**
     * Sums over the batch and, if asked, gradients of L (the sum) in {@link Weights#list()} order.
     *
     * @param thresholdObservation batchtopk: the smallest activation that survived the batch's selection (NaN if
     *                             none did, or another activation)
     */
    record Result(double sse, double l1Sum, double l0Sum, double penaltySum, double auxSum,
            double thresholdObservation, long[] featureFires, double[] targetMean, double targetM2,
            List<NDArray> gradients) {

        BatchStats stats(long tokens) {
            boolean observed = !Double.isNaN(thresholdObservation);
            return new BatchStats(tokens, sse, l1Sum, l0Sum, penaltySum, auxSum,
                    observed ? thresholdObservation : 0.0, observed ? 1 : 0, targetMean, targetM2);
        }
    }

    /** ReLU without skip connection: the paper's loss (kept for the benchmarks and tests that call it so). */
    static Result compute(NDArray wEnc, NDArray bEnc, NDArray wDec, NDArray bDec, NDArray xs, NDArray ts,
            double lambda, boolean withGradients) {
        return compute(new Weights(wEnc, bEnc, wDec, bDec, null, null), TranscoderArchitecture.DEFAULT, xs, ts, lambda,
                null, withGradients);
    }

    /**
     * @param lambda the step's sparsity coefficient (L1 for relu, L0 for jumprelu; ignored by topk and batchtopk)
     * @param dead   0/1 per feature (d_sae), 1 = dead now, in xs's type; null = none dead (no AuxK)
     */
    static Result compute(Weights w, TranscoderArchitecture arch, NDArray xs, NDArray ts, double lambda, NDArray dead,
            boolean withGradients) {
        NDManager home = xs.getManager();
        Activation act = arch.activation();
        try (NDManager scratch = home.newSubManager()) {
            // Results of an op land in its first operand's manager; parking every operand in scratch for the
            // duration makes every intermediate die with it, and the operands go back on close.
            List<NDArray> operands = new ArrayList<>(w.list());
            operands.add(xs);
            operands.add(ts);
            if (dead != null) {
                operands.add(dead);
            }
            ScratchArrays.attachTemporarily(scratch, operands);

            NDArray pre = xs.matMul(w.wEnc()).addi(w.bEnc()); // (B, d_sae)
            NDArray theta = act == Activation.JUMPRELU ? w.logThreshold().exp() : null; // (d_sae)
            Activated a = activate(pre, theta, arch);
            NDArray z = a.z();
            NDArray active = a.active();
            double thresholdObservation = a.thresholdObservation();
            NDArray y = z.matMul(w.wDec()).addi(w.bDec()); // (B, d_out)
            if (w.wSkip() != null) {
                y.addi(xs.matMul(w.wSkip().transpose()));
            }
            NDArray err = y.subi(ts); // (B, d_out): y - ts
            double sse = scalar(err.square().sum());
            NDArray decNorm = w.wDec().square().sum(new int[] {1}).sqrt(); // (d_sae)
            NDArray zSum = z.sum(new int[] {0}); // (d_sae)
            double l1Sum = scalar(zSum.mul(decNorm).sum());
            long[] fires = active.sum(new int[] {0}).toType(DataType.INT64, false).toLongArray();
            double l0Sum = 0;
            for (long f : fires) {
                l0Sum += f;
            }
            double penaltySum = switch (act) {
                case RELU -> l1Sum;
                case JUMPRELU -> l0Sum;
                default -> 0.0;
            };
            NDArray mean = ts.mean(new int[] {0}); // (d_out)
            double[] targetMean = mean.toType(DataType.FLOAT64, false).toDoubleArray();
            double targetM2 = scalar(ts.sub(mean).square().sum());

            // AuxK: the dead features' largest pre-activations predict the miss r = ts - y = -err.
            double auxSum = 0;
            NDArray auxActive = null;
            NDArray auxGrad = null;
            if (act.selectsByRank() && dead != null && arch.auxKCoefficient() > 0) {
                int nDead = (int) Math.round(scalar(dead.sum()));
                if (nDead > 0) {
                    int kAux = Math.max(1, Math.toIntExact(err.getShape().get(1)) / 2);
                    double scale = Math.min((double) nDead / kAux, 1.0);
                    kAux = Math.min(kAux, nDead);
                    NDArray candidates = pre.add(dead.neg().addi(1).muli(EXCLUDED)); // living ones pushed far down
                    NDArray kth = candidates.topK(kAux, 1, true, false).get(0).min(new int[] {1}, true); // (B, 1)
                    auxActive = candidates.gte(kth).toType(pre.getDataType(), false).muli(dead)
                            .muli(pre.maximum(0).sign());
                    NDArray miss = pre.mul(auxActive).matMul(w.wDec()).addi(err); // a W_dec - r
                    double c = arch.auxKCoefficient() * scale;
                    auxSum = c * scalar(miss.square().sum());
                    auxGrad = miss.muli(2 * c); // (B, d_out)
                }
            }

            if (!withGradients) {
                return new Result(sse, l1Sum, l0Sum, penaltySum, auxSum, thresholdObservation, fires, targetMean,
                        targetM2, null);
            }
            NDArray gY = err.muli(2); // (B, d_out)
            NDArray gBDec = gY.sum(new int[] {0});
            NDArray gWDec = z.transpose().matMul(gY); // (d_sae, d_out)
            NDArray gZ = gY.matMul(w.wDec().transpose()); // (B, d_sae)
            NDArray gWSkip = w.wSkip() == null ? null : gY.transpose().matMul(xs); // (d_out, d_in)
            if (act == Activation.RELU && lambda != 0) {
                // d(sum_i zSum_i n_i)/dW_dec[i,:] = zSum_i W_dec[i,:] / n_i; a zero row has no direction: 0 there.
                NDArray perRow = zSum.div(decNorm.maximum(1e-30f)).muli(lambda); // (d_sae)
                gWDec.addi(perRow.expandDims(1).mul(w.wDec()));
                gZ.addi(decNorm.mul(lambda));
            }
            NDArray gLogThreshold = null;
            if (act == Activation.JUMPRELU) {
                double eps = arch.bandwidth();
                NDArray rect = pre.sub(theta).abs().lt(eps / 2).toType(pre.getDataType(), false); // (B, d_sae)
                NDArray perRow = gZ.mul(theta).muli(-1.0 / eps).subi(lambda / eps).muli(rect);
                gLogThreshold = perRow.sum(new int[] {0}).muli(theta); // (d_sae)
            }
            NDArray gPre = gZ.muli(active); // (B, d_sae)
            if (auxGrad != null) {
                gWDec.addi(pre.mul(auxActive).transpose().matMul(auxGrad));
                gPre.addi(auxGrad.matMul(w.wDec().transpose()).muli(auxActive));
            }
            NDArray gBEnc = gPre.sum(new int[] {0});
            NDArray gWEnc = xs.transpose().matMul(gPre); // (d_in, d_sae)
            List<NDArray> grads = new ArrayList<>(List.of(gWEnc, gBEnc, gWDec, gBDec));
            if (gLogThreshold != null) {
                grads.add(gLogThreshold);
            }
            if (gWSkip != null) {
                grads.add(gWSkip);
            }
            for (NDArray g : grads) {
                g.attach(home);
            }
            return new Result(sse, l1Sum, l0Sum, penaltySum, auxSum, thresholdObservation, fires, targetMean,
                    targetM2, List.copyOf(grads));
        }
    }

    /** z, the 0/1 active set and (batchtopk) the smallest surviving activation, for pre-activations (B, d_sae). */
    private record Activated(NDArray z, NDArray active, double thresholdObservation) {}

    private static Activated activate(NDArray pre, NDArray theta, TranscoderArchitecture arch) {
        // the active set is 1 where a feature is active, else 0, in pre's float type (see RankSelection for why)
        switch (arch.activation()) {
            case RELU -> {
                NDArray z = pre.maximum(0);
                return new Activated(z, z.sign(), Double.NaN);
            }
            case TOPK -> {
                RankSelection s = RankSelection.perToken(pre, arch.k());
                return new Activated(s.z(), s.active(), Double.NaN);
            }
            case BATCHTOPK -> {
                RankSelection s = RankSelection.perBatch(pre, arch.k());
                NDArray z = s.z();
                NDArray active = s.active();
                // SAELens's update_topk_threshold: the smallest positive activation that survived.
                double smallest = scalar(z.add(active.neg().addi(1).muli(Float.MAX_VALUE)).min());
                return new Activated(z, active, smallest < Float.MAX_VALUE ? smallest : Double.NaN);
            }
            case JUMPRELU -> {
                NDArray active = pre.gt(theta).toType(pre.getDataType(), false);
                return new Activated(pre.mul(active), active, Double.NaN);
            }
            default -> throw new IllegalStateException("unknown activation " + arch.activation());
        }
    }

    /** The scaled prediction (B, d_out) as training sees it (batchtopk selects over the batch), in xs's manager. */
    static NDArray predict(Weights w, TranscoderArchitecture arch, NDArray xs) {
        NDManager home = xs.getManager();
        try (NDManager scratch = home.newSubManager()) {
            List<NDArray> operands = new ArrayList<>(w.list());
            operands.add(xs);
            ScratchArrays.attachTemporarily(scratch, operands);
            NDArray pre = xs.matMul(w.wEnc()).addi(w.bEnc());
            NDArray theta = arch.activation() == Activation.JUMPRELU ? w.logThreshold().exp() : null;
            NDArray y = activate(pre, theta, arch).z().matMul(w.wDec()).addi(w.bDec());
            if (w.wSkip() != null) {
                y.addi(xs.matMul(w.wSkip().transpose()));
            }
            y.attach(home);
            return y;
        }
    }

    static double scalar(NDArray a) {
        return a.toType(DataType.FLOAT64, false).getDouble();
    }
}
