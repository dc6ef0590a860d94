package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * The training loss of one batch and its exact gradients, written out by hand. For scaled inputs xs (B, d_in) and
 * targets ts (B, d_out), summed over the batch's rows:
 *
 * <pre>
 *   pre = xs W_enc + b_enc          z = ReLU(pre)          y = z W_dec + b_dec          e = y - ts
 *   n_i = ||W_dec[i, :]||           (decoder row norms, d_sae)
 *   L   = sum_b ||e_b||^2  +  lambda sum_b sum_i z_bi n_i
 *
 *   dL/dy      = 2 e
 *   dL/db_dec  = sum_b 2 e_b
 *   dL/dW_dec  = z^T (2 e)  +  lambda (sum_b z_bi / n_i) W_dec[i, :]      the second term is the decoder-norm
 *                                                                         penalty differentiated through n_i
 *   dL/dz      = (2 e) W_dec^T  +  lambda n            (n broadcast over rows)
 *   dL/dpre    = dL/dz * [pre > 0]                     (ReLU; 0 at pre = 0, as torch's relu backward)
 *   dL/dW_enc  = xs^T dL/dpre        dL/db_enc = sum_b dL/dpre_b
 * </pre>
 * This is the loss of Anthropic's April 2024 update and of SAELens's standard SAE ({@code sae_lens/saes/
 * standard_sae.py}: {@code feature_acts * W_dec.norm(dim=1)}, p = 1), summed instead of averaged so that partitions'
 * gradients add; the trainer divides by the token count.
 *
 * <p>Why by hand and not DJL autograd: DJL's PyTorch {@code GradientCollector} allows one collector per JVM (a
 * static flag), so two Spark tasks training two layers in one executor would collide; PyTorch accumulates .grad
 * and DJL's zeroGradients walks every array of the system manager. The six products above are the whole backward
 * pass. The tests check them against central finite differences and against DJL autograd in float64.
 *
 * <p>Works in any float type (float64 in the gradient tests). All intermediate arrays are freed before returning;
 * the returned gradients live in {@code xs}'s manager.
 */
final class TranscoderLoss {

    private TranscoderLoss() {}

    /** Sums over the batch and, if asked, gradients of L (the sum) with respect to W_enc, b_enc, W_dec, b_dec. */
    record Result(double sse, double l1Sum, double l0Sum, long[] featureFires, double[] targetMean, double targetM2,
            NDArray gradWEnc, NDArray gradBEnc, NDArray gradWDec, NDArray gradBDec) {

        BatchStats stats(long tokens) {
            return new BatchStats(tokens, sse, l1Sum, l0Sum, targetMean, targetM2);
        }

        List<NDArray> gradients() {
            return List.of(gradWEnc, gradBEnc, gradWDec, gradBDec);
        }
    }

    static Result compute(NDArray wEnc, NDArray bEnc, NDArray wDec, NDArray bDec, NDArray xs, NDArray ts,
            double lambda, boolean withGradients) {
        NDManager home = xs.getManager();
        try (NDManager scratch = home.newSubManager()) {
            // Results of an op land in its first operand's manager; parking every operand in scratch for the
            // duration makes every intermediate die with it, and the operands go back on close.
            attachTemporarily(scratch, wEnc, bEnc, wDec, bDec, xs, ts);

            NDArray pre = xs.matMul(wEnc).addi(bEnc); // (B, d_sae)
            NDArray z = pre.maximum(0); // (B, d_sae)
            NDArray err = z.matMul(wDec).addi(bDec).subi(ts); // (B, d_out): y - ts
            double sse = scalar(err.square().sum());
            NDArray decNorm = wDec.square().sum(new int[] {1}).sqrt(); // (d_sae)
            NDArray zSum = z.sum(new int[] {0}); // (d_sae)
            double l1Sum = scalar(zSum.mul(decNorm).sum());
            // 1 where a feature fires (z > 0), else 0, in z's float type: counting and masking in floats is several
            // times faster than with a boolean array (libtorch's bool column sums and bool-by-float products are slow),
            // and column sums of 0/1 are exact in float32 up to 2^24 rows a batch.
            NDArray active = z.sign(); // (B, d_sae)
            long[] fires = active.sum(new int[] {0}).toType(DataType.INT64, false).toLongArray();
            double l0Sum = 0;
            for (long f : fires) {
                l0Sum += f;
            }
            NDArray mean = ts.mean(new int[] {0}); // (d_out)
            double[] targetMean = mean.toType(DataType.FLOAT64, false).toDoubleArray();
            double targetM2 = scalar(ts.sub(mean).square().sum());

            if (!withGradients) {
                return new Result(sse, l1Sum, l0Sum, fires, targetMean, targetM2, null, null, null, null);
            }
            NDArray gY = err.muli(2); // (B, d_out)
            NDArray gBDec = gY.sum(new int[] {0});
            NDArray gWDec = z.transpose().matMul(gY); // (d_sae, d_out)
            NDArray gZ = gY.matMul(wDec.transpose()); // (B, d_sae)
            if (lambda != 0) {
                // d(sum_i zSum_i n_i)/dW_dec[i,:] = zSum_i W_dec[i,:] / n_i; a zero row has no direction: 0 there.
                NDArray perRow = zSum.div(decNorm.maximum(1e-30f)).muli(lambda); // (d_sae)
                gWDec.addi(perRow.expandDims(1).mul(wDec));
                gZ.addi(decNorm.mul(lambda));
            }
            NDArray gPre = gZ.muli(active); // (B, d_sae)
            NDArray gBEnc = gPre.sum(new int[] {0});
            NDArray gWEnc = xs.transpose().matMul(gPre); // (d_in, d_sae)
            for (NDArray g : new NDArray[] {gWEnc, gBEnc, gWDec, gBDec}) {
                g.attach(home);
            }
            return new Result(sse, l1Sum, l0Sum, fires, targetMean, targetM2, gWEnc, gBEnc, gWDec, gBDec);
        }
    }

    /** The scaled prediction z W_dec + b_dec (B, d_out), in {@code xs}'s manager. */
    static NDArray predict(NDArray wEnc, NDArray bEnc, NDArray wDec, NDArray bDec, NDArray xs) {
        NDManager home = xs.getManager();
        try (NDManager scratch = home.newSubManager()) {
            attachTemporarily(scratch, wEnc, bEnc, wDec, bDec, xs);
            NDArray y = xs.matMul(wEnc).addi(bEnc).maximum(0).matMul(wDec).addi(bDec);
            y.attach(home);
            return y;
        }
    }

    /** Temp-attaches each distinct array once (attaching one twice would lose its way home). */
    static void attachTemporarily(NDManager scratch, NDArray... arrays) {
        Set<NDArray> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<NDArray> distinct = new ArrayList<>();
        for (NDArray a : arrays) {
            if (seen.add(a)) {
                distinct.add(a);
            }
        }
        scratch.tempAttachAll(distinct.toArray(new NDArray[0]));
    }

    static double scalar(NDArray a) {
        return a.toType(DataType.FLOAT64, false).getDouble();
    }
}
