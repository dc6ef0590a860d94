package org.cellcircuits.transcoder;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.function.IntFunction;
import org.cellcircuits.io.SoftwareVersions;
import org.cellcircuits.optim.AdamW;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains one layer's transcoder (or SAE) on one worker: fp32 master weights, Adam, the lr and lambda schedules,
 * dead-feature tracking and resampling, checkpoints that resume bit for bit.
 *
 * <p>A step is split in two so that a data-parallel run can sit between the halves: {@link #gradients} computes, on
 * this worker's rows, the gradient of the summed loss as one flat array; partitions' {@link Gradients} add
 * ({@link Gradients#plus}); {@link #apply} takes the sum and makes the same Adam update on every worker that holds a
 * trainer at the same step. {@link #step} is {@code apply(gradients(batch))} plus resampling when it is due.
 * Given the seed and the order of batches, every result is deterministic (same thread count, same libtorch).
 *
 * <p>Not thread-safe: one trainer per thread. Two trainers in one JVM do not share state (no global RNG, no DJL
 * gradient collector).
 */
public final class TranscoderTrainer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TranscoderTrainer.class);
    /** The trained form of JumpReLU's threshold (theta = exp(log_threshold) stays positive), as SAELens trains it. */
    static final String LOG_THRESHOLD = "log_threshold";
    /** Anthropic's resampling puts new encoder columns at 0.2 x the mean norm of the living ones. */
    static final double RESAMPLE_ENCODER_SCALE = 0.2;

    private final TranscoderConfig config;
    private final NDManager manager;
    private final NDArray wEnc;
    private final NDArray bEnc;
    private final NDArray wDec;
    private final NDArray bDec;
    /** jumprelu only, else null. */
    private final NDArray logThreshold;
    /** With a skip connection only, else null: [d_out, d_in]. */
    private final NDArray wSkip;
    /** The six above (those that exist) in the order of names, flat gradients and checkpoints. */
    private final TranscoderLoss.Weights weights;
    private final AdamW adam;
    private final DeadFeatures dead;
    private final List<StepRecord> log = new ArrayList<>();
    private TrainingRandom random;
    private ActivationScaling scaling;
    private long step;
    private long tokensSeen;
    private long streamPosition;
    /** batchtopk: the running mean of the smallest surviving activation, the saved JumpReLU threshold; NaN before. */
    private double batchThreshold = Double.NaN;
    /** A replica's copy of the driver's dead features (AuxK needs them); null on a driver or a lone trainer. */
    private int[] replicaDead;

    private TranscoderTrainer(TranscoderConfig config, Device device) {
        this.config = config;
        this.manager = NDManager.newBaseManager(device);
        long[][] shapes = trainableShapes(config);
        this.wEnc = manager.zeros(new Shape(shapes[0]), DataType.FLOAT32);
        this.bEnc = manager.zeros(new Shape(shapes[1]), DataType.FLOAT32);
        this.wDec = manager.zeros(new Shape(shapes[2]), DataType.FLOAT32);
        this.bDec = manager.zeros(new Shape(shapes[3]), DataType.FLOAT32);
        int next = 4;
        this.logThreshold = config.activation() == Activation.JUMPRELU
                ? manager.zeros(new Shape(shapes[next++]), DataType.FLOAT32) : null;
        this.wSkip = config.skipConnection() ? manager.zeros(new Shape(shapes[next]), DataType.FLOAT32) : null;
        this.weights = new TranscoderLoss.Weights(wEnc, bEnc, wDec, bDec, logThreshold, wSkip);
        List<Shape> s = new ArrayList<>();
        for (long[] shape : shapes) {
            s.add(new Shape(shape));
        }
        this.adam = AdamW.adam(manager, s, config.adamBeta1(), config.adamBeta2(), config.adamEpsilon());
        this.dead = new DeadFeatures(config.dSae(), config.deadFeatureWindow());
        this.random = new TrainingRandom(config.seed());
        if (config.hasFixedScaling()) {
            this.scaling = new ActivationScaling(config.inputScale(), config.targetScale(), false);
        }
    }

    /**
     * The names of the trained weights, in the order of flat gradients and weights: W_enc, b_enc, W_dec, b_dec, then
     * log_threshold (jumprelu) and W_skip (skip connection). BatchTopK's threshold is not trained by gradient.
     */
    static List<String> trainableNames(TranscoderConfig c) {
        List<String> names = new ArrayList<>(Transcoder.PARAMETER_NAMES);
        if (c.activation() == Activation.JUMPRELU) {
            names.add(LOG_THRESHOLD);
        }
        if (c.skipConnection()) {
            names.add(Transcoder.W_SKIP);
        }
        return List.copyOf(names);
    }

    static long[][] trainableShapes(TranscoderConfig c) {
        List<long[]> s = new ArrayList<>(List.of(new long[] {c.dIn(), c.dSae()}, new long[] {c.dSae()},
                new long[] {c.dSae(), c.dOut()}, new long[] {c.dOut()}));
        if (c.activation() == Activation.JUMPRELU) {
            s.add(new long[] {c.dSae()});
        }
        if (c.skipConnection()) {
            s.add(new long[] {c.dOut(), c.dIn()});
        }
        return s.toArray(new long[0][]);
    }

    /** The live weights in {@link #trainableNames} order. */
    private List<NDArray> params() {
        return weights.list();
    }

    /**
     * A fresh trainer: decoder rows random directions of norm {@code decoder-init-norm} (unit norm for topk and
     * batchtopk, which keep them so); encoder columns the decoder rows for an SAE (W_enc = W_dec^T, Anthropic's April
     * 2024 init, SAELens's {@code initialize_weights}) or independent random directions of norm
     * {@code decoder-init-norm} for a transcoder, whose input and output spaces differ; biases and W_skip zero;
     * JumpReLU thresholds at {@code jumprelu-threshold-init}. Drawn from the seed, so two trainers with one config
     * start identical.
     */
    public static TranscoderTrainer create(TranscoderConfig config, Device device) {
        double rate = config.architecture().thresholdRate();
        if (config.activation() == Activation.BATCHTOPK && rate * config.totalSteps() < 10) {
            LOG.warn("{}: batchtopk-threshold-rate {} over {} steps: the saved threshold, a running mean of each "
                    + "batch's smallest survivor, would still remember the first steps' activations; raise the rate "
                    + "to >= {} or train longer", config.hookNameIn(), rate, config.totalSteps(),
                    10.0 / config.totalSteps());
        }
        TranscoderTrainer t = new TranscoderTrainer(config, device);
        try {
            t.initialize();
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private void initialize() {
        int dIn = config.dIn();
        int dOut = config.dOut();
        int dSae = config.dSae();
        float[] dec = new float[dSae * dOut];
        double decoderNorm = config.architecture().unitNormDecoder() ? 1.0 : config.decoderInitNorm();
        for (int i = 0; i < dSae; i++) {
            randomDirection(dec, i * dOut, dOut, 1, decoderNorm);
        }
        float[] enc = new float[dIn * dSae];
        if (config.kind() == TranscoderKind.SAE) {
            for (int i = 0; i < dSae; i++) {
                for (int j = 0; j < dIn; j++) {
                    enc[j * dSae + i] = dec[i * dOut + j];
                }
            }
        } else {
            for (int i = 0; i < dSae; i++) {
                randomDirection(enc, i, dIn, dSae, config.decoderInitNorm());
            }
        }
        wDec.set(dec);
        wEnc.set(enc);
        if (logThreshold != null) {
            float[] t = new float[dSae];
            Arrays.fill(t, (float) Math.log(config.architecture().thresholdInit()));
            logThreshold.set(t);
        }
    }

    /** Writes a Gaussian direction of the given norm into a[offset], a[offset + stride], ... (n values). */
    private void randomDirection(float[] a, int offset, int n, int stride, double norm) {
        double[] v = new double[n];
        double sq = 0;
        for (int j = 0; j < n; j++) {
            v[j] = random.nextGaussian();
            sq += v[j] * v[j];
        }
        double f = norm / Math.sqrt(sq);
        for (int j = 0; j < n; j++) {
            a[offset + j * stride] = (float) (v[j] * f);
        }
    }

    public TranscoderConfig config() {
        return config;
    }

    /** Steps applied so far (the index of the next step). */
    public long step() {
        return step;
    }

    public long tokensSeen() {
        return tokensSeen;
    }

    /** Rows consumed from the data stream (scaling estimate included); resume skips to here. */
    public long streamPosition() {
        return streamPosition;
    }

    public boolean isDone() {
        return step >= config.totalSteps();
    }

    /** The scaling factors, or null before they are estimated. */
    public ActivationScaling scaling() {
        return scaling;
    }

    /**
     * Sets the scaling factors (a data-parallel driver estimates them once and gives every worker the same ones).
     * Only before the first step: changing them later would change what the weights mean.
     */
    public void setScaling(ActivationScaling s) {
        if (step > 0) {
            throw new IllegalStateException(String.format(
                    "scaling factors are fixed once training has started (step %d)", step));
        }
        if (s.folded()) {
            throw new IllegalArgumentException("training scales activations itself; give unfolded factors");
        }
        if (config.kind() == TranscoderKind.SAE && s.input() != s.target()) {
            throw new IllegalArgumentException(String.format(
                    "an SAE's target is its input; input factor %s and target factor %s differ", s.input(), s.target()));
        }
        this.scaling = s;
    }

    /** The live weight (unfolded, scaled units) by its safetensors name; tests and the data-parallel driver. */
    NDArray parameter(String name) {
        List<String> names = trainableNames(config);
        int i = names.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("no parameter " + name + "; have " + names);
        }
        return params().get(i);
    }

    /** batchtopk: the threshold the saved transcoder will apply (NaN before the first step); else NaN. */
    public double batchThreshold() {
        return batchThreshold;
    }

    AdamW adam() {
        return adam;
    }

    /** Indices of the features now dead, ascending. */
    public int[] deadFeatures() {
        return dead.dead();
    }

    /** The share of features now dead. */
    public double deadFraction() {
        return dead.deadFraction();
    }

    /** The per-step log so far (resumed runs include the steps before the checkpoint). */
    public List<StepRecord> log() {
        return Collections.unmodifiableList(new ArrayList<>(log));
    }

    // ---- data-parallel replicas ------------------------------------------------------------------------------

    /**
     * The live weights (unfolded, scaled units), flat in {@link Gradients} order: what a data-parallel driver sends its
     * workers each step.
     */
    public float[] flatWeights() {
        float[] flat = new float[parameterCount()];
        int offset = 0;
        for (NDArray p : params()) {
            float[] v = p.toFloatArray();
            System.arraycopy(v, 0, flat, offset, v.length);
            offset += v.length;
        }
        return flat;
    }

    /**
     * A worker's copy of a driver's trainer: it only computes {@link #gradients}, at the weights and step the driver
     * last gave it with {@link #syncTo}; the driver alone applies updates, so the replicas never drift apart.
     */
    public static TranscoderTrainer replica(TranscoderConfig config, ActivationScaling scaling, Device device) {
        TranscoderTrainer t = new TranscoderTrainer(config, device);
        t.setScaling(scaling);
        return t;
    }

    /** Sets the weights (from {@link #flatWeights}) and the step they belong to; for {@link #replica}s. */
    public void syncTo(long atStep, float[] flat) {
        syncTo(atStep, flat, null);
    }

    /**
     * {@link #syncTo(long, float[])}, and the features the driver counts as dead at that step ({@link
     * #deadFeatures()}), which the AuxK loss of topk and batchtopk needs; null = none.
     */
    public void syncTo(long atStep, float[] flat, int[] deadFeatures) {
        this.replicaDead = deadFeatures == null ? null : deadFeatures.clone();
        if (flat.length != parameterCount()) {
            throw new IllegalArgumentException(String.format(
                    "weights hold %d values; this transcoder has %d parameters", flat.length, parameterCount()));
        }
        int offset = 0;
        for (NDArray p : params()) {
            int n = Math.toIntExact(p.getShape().size());
            p.set(FloatBuffer.wrap(flat, offset, n));
            offset += n;
        }
        this.step = atStep;
    }

    /** {@link #apply} then resampling when due, for a driver that got its gradients from workers. */
    public StepRecord applyAndResample(Gradients g, java.util.function.Supplier<TrainingBatch> resampleBatch) {
        StepRecord r = apply(g);
        if (resampleDue()) {
            int n = resampleDeadFeatures(resampleBatch.get());
            if (n > 0) {
                r = r.withResampled(n);
                log.set(log.size() - 1, r);
            }
        }
        return r;
    }

    // ---- scaling ---------------------------------------------------------------------------------------------

    /**
     * Reads {@code scaling-batches} batches and sets s_in = sqrt(d_in / mean ||x||^2), s_out = sqrt(d_out / mean
     * ||y||^2). The batches are used up (not trained on), as in SAELens. Fewer batches are used if the data ends
     * first.
     */
    public ActivationScaling estimateScaling(TrainingBatches batches) {
        double sumX = 0;
        double sumT = 0;
        long rows = 0;
        int read = 0;
        for (; read < config.scalingBatches(); read++) {
            try (NDManager m = manager.newSubManager()) {
                TrainingBatch b = batches.next(m);
                if (b == null) {
                    break;
                }
                checkWidths(b);
                double bx = squaredNormSum(b.input());
                double bt = b.target() == b.input() ? bx : squaredNormSum(b.target());
                if (!Double.isFinite(bx) || !Double.isFinite(bt)) {
                    throw nonFinite(b, "while estimating the scaling factors");
                }
                sumX += bx;
                sumT += bt;
                rows += b.rows();
                streamPosition = batches.tokensSeen();
            }
        }
        if (rows == 0) {
            throw new IllegalArgumentException("no activation batches to estimate the scaling factors from");
        }
        if (read < config.scalingBatches()) {
            LOG.warn("scaling factors of {} estimated from {} batches; the data ended before scaling-batches = {}",
                    config.hookNameIn(), read, config.scalingBatches());
        }
        double in = ActivationScaling.factor(sumX, rows, config.dIn(), "mlp_in (" + config.hookNameIn() + ")");
        double out = config.kind() == TranscoderKind.SAE ? in
                : ActivationScaling.factor(sumT, rows, config.dOut(), "target (" + config.hookNameOut() + ")");
        ActivationScaling s = new ActivationScaling(in, out, false);
        setScaling(s);
        return s;
    }

    /** Sum over rows of ||row||^2, in float64 (scaling estimates add many batches). */
    static double squaredNormSum(NDArray a) {
        return TranscoderLoss.scalar(a.toType(DataType.FLOAT64, false).square().sum());
    }

    // ---- one step --------------------------------------------------------------------------------------------

    /**
     * The gradient, at the current weights and step, of the loss summed over the batch's rows, plus the batch's
     * fire counts and statistics. Changes nothing. Stops on a non-finite activation, naming the row (skipping it
     * would hide a broken harvest).
     */
    public Gradients gradients(TrainingBatch batch) {
        requireReady();
        checkWidths(batch);
        double lambda = TrainingSchedule.sparsityCoefficient(config, step);
        try (NDManager m = manager.newSubManager()) {
            TranscoderLoss.Result r = loss(batch, lambda, m);
            float[] flat = new float[parameterCount()];
            int offset = 0;
            for (NDArray g : r.gradients()) {
                float[] v = g.toFloatArray();
                System.arraycopy(v, 0, flat, offset, v.length);
                offset += v.length;
            }
            return new Gradients(step, lambda, flat, r.featureFires(), r.stats(batch.rows()));
        }
    }

    /**
     * One Adam step with gradients summed over any number of rows (divided here by their count), then the
     * dead-feature counters and the log. The gradients must have been computed at this step.
     */
    public StepRecord apply(Gradients g) {
        requireReady();
        if (g.step() != step) {
            throw new IllegalArgumentException(String.format(
                    "gradients were computed at step %d; the trainer is at step %d", g.step(), step));
        }
        double lambda = TrainingSchedule.sparsityCoefficient(config, step);
        if (g.l1Coefficient() != lambda) {
            throw new IllegalArgumentException(String.format(
                    "gradients used lambda %s; step %d's lambda is %s (another config?)", g.l1Coefficient(), step, lambda));
        }
        if (g.values().length != parameterCount() || g.featureFires().length != config.dSae()) {
            throw new IllegalArgumentException(String.format(
                    "gradients hold %d values and %d fire counts; this transcoder has %d parameters and %d features",
                    g.values().length, g.featureFires().length, parameterCount(), config.dSae()));
        }
        try (NDManager m = manager.newSubManager()) {
            List<NDArray> sums = new ArrayList<>();
            int offset = 0;
            for (long[] shape : trainableShapes(config)) {
                int n = Math.toIntExact(new Shape(shape).size());
                sums.add(m.create(FloatBuffer.wrap(g.values(), offset, n), new Shape(shape)));
                offset += n;
            }
            return update(sums, g.featureFires(), g.stats(), lambda);
        }
    }

    /**
     * The Adam step, dead-feature counters and log row shared by {@link #apply} and {@link #step}: {@code sums} are
     * the gradients of the summed loss (divided here, in place, by the token count), in any manager.
     */
    private StepRecord update(List<NDArray> sums, long[] featureFires, BatchStats s, double lambda) {
        double lr = TrainingSchedule.learningRate(config, step);
        List<NDArray> grads = new ArrayList<>();
        for (NDArray sum : sums) {
            grads.add(sum.divi(s.tokens()));
        }
        adam.update(params(), grads, lr);
        if (config.architecture().unitNormDecoder()) {
            normaliseDecoderRows();
        }
        double observed = s.thresholdObservation();
        if (config.activation() == Activation.BATCHTOPK && !Double.isNaN(observed)) {
            double rate = config.architecture().thresholdRate();
            batchThreshold = Double.isNaN(batchThreshold) ? observed : (1 - rate) * batchThreshold + rate * observed;
        }
        dead.record(featureFires, s.tokens());
        tokensSeen += s.tokens();
        StepRecord r = new StepRecord(step, tokensSeen, s.loss(lambda), s.mse(), s.l1(), s.l0(), dead.deadFraction(),
                s.explainedVariance(), lr, lambda, 0);
        log.add(r);
        step++;
        return r;
    }

    /**
     * TopK's and BatchTopK's decoder rows back to unit norm after each update (sparsify's
     * {@code set_decoder_norm_to_unit_norm}): their selection compares activations, which means the same only if every
     * feature writes with the same norm. A zero row stays zero.
     */
    private void normaliseDecoderRows() {
        try (NDManager m = manager.newSubManager()) {
            NDArray norms = wDec.square().sum(new int[] {1}, true).sqrt().maximum(1e-30f);
            norms.attach(m);
            NDArray unit = wDec.div(norms);
            unit.attach(m);
            wDec.set(unit.toFloatArray());
        }
    }

    /** 0/1 per feature, 1 = dead now, for AuxK; null when AuxK does not apply or nothing is dead. */
    private NDArray deadMask(NDManager m) {
        Activation a = config.activation();
        if (!a.selectsByRank() || config.architecture().auxKCoefficient() == 0) {
            return null;
        }
        int[] deadNow = replicaDead != null ? replicaDead : dead.dead();
        if (deadNow.length == 0) {
            return null;
        }
        float[] mask = new float[config.dSae()];
        for (int i : deadNow) {
            mask[i] = 1f;
        }
        return m.create(mask).toDevice(manager.getDevice(), false);
    }

    /** The batch's loss sums and gradients at the current weights; the arrays live in {@code m}. */
    private TranscoderLoss.Result loss(TrainingBatch batch, double lambda, NDManager m) {
        NDArray[] scaled = scaled(batch, m);
        NDArray deadMask = deadMask(m);
        if (deadMask != null) {
            deadMask.attach(m);
        }
        TranscoderLoss.Result r = TranscoderLoss.compute(weights, config.architecture(), scaled[0], scaled[1],
                lambda, deadMask, true);
        if (!Double.isFinite(r.sse()) || !Double.isFinite(r.l1Sum())) {
            throw nonFinite(batch, String.format("at step %d (loss sums: squared error %s, l1 %s)",
                    step, r.sse(), r.l1Sum()));
        }
        return r;
    }

    /**
     * {@code apply(gradients(batch))}, then resampling of dead features when it is due. The gradients never leave
     * libtorch here (no copy to a Java array and back, as a data-parallel step needs); the update is the same.
     */
    public StepRecord step(TrainingBatch batch) {
        requireReady();
        checkWidths(batch);
        double lambda = TrainingSchedule.sparsityCoefficient(config, step);
        StepRecord r;
        try (NDManager m = manager.newSubManager()) {
            TranscoderLoss.Result loss = loss(batch, lambda, m);
            r = update(loss.gradients(), loss.featureFires(), loss.stats(batch.rows()), lambda);
        }
        if (resampleDue()) {
            int n = resampleDeadFeatures(batch);
            if (n > 0) {
                r = r.withResampled(n);
                log.set(log.size() - 1, r);
            }
        }
        return r;
    }

    /** After every resample-interval-th step, unless fewer than an interval of steps remain. */
    boolean resampleDue() {
        return config.resampleDeadFeatures() && step % config.resampleIntervalSteps() == 0
                && step + config.resampleIntervalSteps() <= config.totalSteps();
    }

    /**
     * Re-initialises every dead feature (Anthropic, "Towards Monosemanticity", resampling; SAELens's earlier
     * {@code resample_neurons_l2}): rows of the batch are drawn with probability proportional to the square of their
     * squared error; for each dead feature i and its row b, the decoder row becomes the direction of b's error
     * t_b - y_b (what the transcoder is missing there) at the mean norm of the living decoder rows, the encoder
     * column the direction of x_b at 0.2 x the mean norm of the living encoder columns, b_enc,i = 0; the Adam moments
     * of those entries are zeroed and the feature gets a fresh dead-feature window. Returns how many were resampled.
     */
    public int resampleDeadFeatures(TrainingBatch batch) {
        requireReady();
        checkWidths(batch);
        int[] deadIdx = dead.dead();
        if (deadIdx.length == 0) {
            return 0;
        }
        int dIn = config.dIn();
        int dOut = config.dOut();
        int dSae = config.dSae();
        int rows = batch.rows();
        float[] x;
        float[] t;
        float[] y;
        try (NDManager m = manager.newSubManager()) {
            NDArray[] scaled = scaled(batch, m);
            y = TranscoderLoss.predict(weights, config.architecture(), scaled[0]).toFloatArray();
            x = scaled[0].toFloatArray();
            t = scaled[1].toFloatArray();
        }
        double[] cumulative = new double[rows];
        double total = 0;
        for (int b = 0; b < rows; b++) {
            double e = 0;
            for (int j = 0; j < dOut; j++) {
                double d = t[b * dOut + j] - y[b * dOut + j];
                e += d * d;
            }
            total += e * e;
            cumulative[b] = total;
        }
        if (!(total > 0) || Double.isInfinite(total)) {
            LOG.warn("{}: {} dead features not resampled at step {}: the batch's squared errors sum to {}",
                    config.hookNameIn(), deadIdx.length, step, total);
            return 0;
        }
        float[] we = wEnc.toFloatArray();
        float[] be = bEnc.toFloatArray();
        float[] wd = wDec.toFloatArray();
        boolean[] isDead = new boolean[dSae];
        for (int i : deadIdx) {
            isDead[i] = true;
        }
        double decNorms = 0;
        double encNorms = 0;
        int alive = 0;
        for (int i = 0; i < dSae; i++) {
            if (!isDead[i]) {
                decNorms += norm(wd, i * dOut, dOut, 1);
                encNorms += norm(we, i, dIn, dSae);
                alive++;
            }
        }
        double decoderNorm = alive > 0 ? decNorms / alive : config.decoderInitNorm();
        double encoderNorm = (alive > 0 ? encNorms / alive : config.decoderInitNorm()) * RESAMPLE_ENCODER_SCALE;
        for (int i : deadIdx) {
            double u = random.nextDouble() * total;
            int b = Arrays.binarySearch(cumulative, u);
            b = b >= 0 ? b + 1 : -b - 1; // first row whose cumulative weight exceeds u
            b = Math.min(b, rows - 1);
            double en = 0;
            for (int j = 0; j < dOut; j++) {
                double d = t[b * dOut + j] - y[b * dOut + j];
                en += d * d;
            }
            en = Math.sqrt(en);
            for (int j = 0; j < dOut; j++) {
                wd[i * dOut + j] = (float) ((t[b * dOut + j] - y[b * dOut + j]) / en * decoderNorm);
            }
            double xn = norm(x, b * dIn, dIn, 1);
            for (int j = 0; j < dIn; j++) {
                we[j * dSae + i] = xn > 0 ? (float) (x[b * dIn + j] / xn * encoderNorm) : 0f;
            }
            be[i] = 0f;
        }
        wEnc.set(we);
        bEnc.set(be);
        wDec.set(wd);
        zeroFeatures(adam.firstMoment(0), adam.secondMoment(0), deadIdx, dIn, dSae, false);
        zeroFeatures(adam.firstMoment(1), adam.secondMoment(1), deadIdx, 1, dSae, false);
        zeroFeatures(adam.firstMoment(2), adam.secondMoment(2), deadIdx, dSae, dOut, true);
        if (logThreshold != null) {
            float[] th = logThreshold.toFloatArray();
            for (int i : deadIdx) {
                th[i] = (float) Math.log(config.architecture().thresholdInit());
            }
            logThreshold.set(th);
            zeroFeatures(adam.firstMoment(4), adam.secondMoment(4), deadIdx, 1, dSae, false);
        }
        dead.revive(deadIdx);
        LOG.info("{}: resampled {} dead features after step {}", config.hookNameIn(), deadIdx.length, step);
        return deadIdx.length;
    }

    private static double norm(float[] a, int offset, int n, int stride) {
        double s = 0;
        for (int j = 0; j < n; j++) {
            double v = a[offset + j * stride];
            s += v * v;
        }
        return Math.sqrt(s);
    }

    /** Zeroes feature i's entries of two (rows, cols) moment arrays: row i if {@code byRow}, else column i. */
    private static void zeroFeatures(NDArray m, NDArray v, int[] features, int rows, int cols, boolean byRow) {
        for (NDArray a : new NDArray[] {m, v}) {
            float[] values = a.toFloatArray();
            for (int i : features) {
                if (byRow) {
                    Arrays.fill(values, i * cols, (i + 1) * cols, 0f);
                } else {
                    for (int r = 0; r < rows; r++) {
                        values[r * cols + i] = 0f;
                    }
                }
            }
            a.set(values);
        }
    }

    /** Input and target of the batch, as fp32 on this device, times s_in and s_out; both arrays live in m. */
    private NDArray[] scaled(TrainingBatch batch, NDManager m) {
        Device device = manager.getDevice();
        NDArray xs = batch.input().toType(DataType.FLOAT32, false).toDevice(device, false)
                .mul((float) scaling.input());
        xs.attach(m);
        NDArray ts;
        if (batch.target() == batch.input() && scaling.input() == scaling.target()) {
            ts = xs;
        } else {
            ts = batch.target().toType(DataType.FLOAT32, false).toDevice(device, false).mul((float) scaling.target());
            ts.attach(m);
        }
        return new NDArray[] {xs, ts};
    }

    private void requireReady() {
        if (scaling == null) {
            throw new IllegalStateException(
                    "scaling factors are not set: call estimateScaling, setScaling, or give input-scale and target-scale");
        }
        if (isDone()) {
            throw new IllegalStateException(String.format(
                    "training is complete: all %d steps are done", config.totalSteps()));
        }
    }

    private void checkWidths(TrainingBatch b) {
        if (b.inputWidth() != config.dIn()) {
            throw new IllegalArgumentException(String.format(
                    "batch at step %d (first row: %s) has mlp_in width %d; layer %d's config has d_in %d "
                            + "(activations of another model or layer?)",
                    step, b.rowName().apply(0), b.inputWidth(), config.layer(), config.dIn()));
        }
        if (b.targetWidth() != config.dOut()) {
            throw new IllegalArgumentException(String.format(
                    "batch at step %d (first row: %s) has target width %d; layer %d's config has d_out %d",
                    step, b.rowName().apply(0), b.targetWidth(), config.layer(), config.dOut()));
        }
    }

    private RuntimeException nonFinite(TrainingBatch batch, String when) {
        String where = locateNonFinite(batch.input(), "mlp_in (" + config.hookNameIn() + ")", batch.rowName());
        if (where == null && batch.target() != batch.input()) {
            where = locateNonFinite(batch.target(), "target (" + config.hookNameOut() + ")", batch.rowName());
        }
        if (where != null) {
            return new IllegalArgumentException(String.format(
                    "%s %s; training stops rather than skip the row, because a non-finite activation means the "
                            + "harvest or the model overflowed (fp16?) and would otherwise go unnoticed",
                    where, when));
        }
        return new IllegalStateException(String.format(
                "loss is not finite %s although every activation of the batch is finite: training diverged; "
                        + "lower train.lr (now %s)", when, config.lr()));
    }

    private static String locateNonFinite(NDArray a, String what, IntFunction<String> rowName) {
        float[] v = a.toType(DataType.FLOAT32, false).toFloatArray();
        int cols = Math.toIntExact(a.getShape().get(1));
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                return String.format("%s is %s at %s, column %d", what, v[i], rowName.apply(i / cols), i % cols);
            }
        }
        return null;
    }

    private int parameterCount() {
        long n = 0;
        for (long[] s : trainableShapes(config)) {
            n += new Shape(s).size();
        }
        return Math.toIntExact(n);
    }

    // ---- the loop ----------------------------------------------------------------------------------------------

    /**
     * Trains until the run's steps are done (or {@code options.stopAfterSteps()}): skips the batches a resumed run
     * has already consumed, estimates the scaling if needed, steps, logs progress and writes checkpoints to
     * {@code checkpointRoot/step=S/}. Fails if the data ends before the run does.
     */
    public void train(TrainingBatches batches, TrainOptions options) {
        skipTo(batches, streamPosition);
        if (scaling == null) {
            ActivationScaling s = estimateScaling(batches);
            LOG.info("{}: scaling factors input {} target {}", options.name(), s.input(), s.target());
        }
        long stopAt = Math.min(config.totalSteps(), options.stopAfterSteps());
        TrainingProgress progress = new TrainingProgress(options.name(), config.totalSteps(),
                options.progressEvery().toNanos(), System::nanoTime, options.progressSink(), step, tokensSeen);
        StepRecord last = null;
        while (step < stopAt) {
            try (NDManager m = manager.newSubManager()) {
                TrainingBatch b = batches.next(m);
                if (b == null) {
                    throw new IllegalStateException(String.format(
                            "%s: the activation batches ran out after %d rows, at step %d of %d (train.training-tokens "
                                    + "is %d); lower training-tokens or give more data", options.name(),
                            batches.tokensSeen(), step, config.totalSteps(), config.trainingTokens()));
                }
                streamPosition = batches.tokensSeen();
                last = step(b);
            }
            options.afterStep().accept(last);
            progress.maybeReport(last);
            if (options.checkpointRoot() != null
                    && (step % options.checkpointEverySteps() == 0 || step == config.totalSteps())) {
                Path dir = options.checkpointRoot().resolve("step=" + step);
                saveCheckpoint(dir);
                options.afterCheckpoint().accept(dir);
            }
        }
        if (last != null) {
            progress.finish(last);
        }
    }

    private void skipTo(TrainingBatches batches, long position) {
        if (batches.tokensSeen() > position) {
            throw new IllegalArgumentException(String.format(
                    "the batches have already handed out %d rows but the trainer has consumed %d; give the stream "
                            + "from its start (a resumed run skips what it has seen)", batches.tokensSeen(), position));
        }
        while (batches.tokensSeen() < position) {
            try (NDManager m = manager.newSubManager()) {
                if (batches.next(m) == null) {
                    throw new IllegalArgumentException(String.format(
                            "the batches end after %d rows, before the checkpoint's position %d", batches.tokensSeen(),
                            position));
                }
            }
        }
        if (batches.tokensSeen() != position) {
            throw new IllegalArgumentException(String.format(
                    "skipping to the checkpoint's position %d stopped at %d rows: batches are not cut as in the "
                            + "checkpointed run (another train-batch-size-tokens or data?)", position, batches.tokensSeen()));
        }
    }

    // ---- outputs and checkpoints -----------------------------------------------------------------------------

    /** A copy of the current model (unfolded, with this trainer's scaling) that outlives the trainer. */
    public Transcoder transcoder() {
        if (scaling == null) {
            throw new IllegalStateException("no scaling factors yet: the transcoder would not know its units");
        }
        List<float[]> values = new ArrayList<>();
        for (NDArray p : List.of(wEnc, bEnc, wDec, bDec)) {
            values.add(p.toFloatArray());
        }
        if (config.activation() == Activation.JUMPRELU) {
            float[] t = logThreshold.toFloatArray();
            for (int i = 0; i < t.length; i++) {
                t[i] = (float) Math.exp(t[i]);
            }
            values.add(t);
        } else if (config.activation() == Activation.BATCHTOPK) {
            float[] t = new float[config.dSae()];
            Arrays.fill(t, Double.isNaN(batchThreshold) ? 0f : (float) batchThreshold);
            values.add(t);
        }
        if (wSkip != null) {
            values.add(wSkip.toFloatArray());
        }
        return Transcoder.of(config, scaling, provenance(), manager.getDevice(), values.toArray(new float[0][]));
    }

    private TrainingProvenance provenance() {
        return new TrainingProvenance(step, tokensSeen, config.hash(), SoftwareVersions.current());
    }

    /** Writes the transcoder (folded weights.safetensors + cfg.json) to {@code dir}. */
    public void save(Path dir) {
        try (Transcoder t = transcoder()) {
            t.save(dir);
        }
    }

    /** Writes everything a resume needs to {@code dir} ({@link TrainerCheckpoint} says what and how). */
    public void saveCheckpoint(Path dir) {
        TrainerCheckpoint.save(dir, config, params(), adam, dead.state(), new TrainerCheckpoint.Counters(step,
                tokensSeen, streamPosition, random.state(), batchThreshold, scaling, log));
        LOG.info("{}: checkpoint at step {} written to {}", config.hookNameIn(), step, dir);
    }

    /** A trainer in exactly the state {@link #saveCheckpoint} recorded, with the config recorded there. */
    public static TranscoderTrainer resume(Path dir, Device device) {
        return resume(dir, TrainerCheckpoint.config(dir), device);
    }

    /**
     * A trainer in exactly the state {@link #saveCheckpoint} recorded. {@code config} must be the one the
     * checkpoint was written with (same hash); otherwise the error lists the keys that differ.
     */
    public static TranscoderTrainer resume(Path dir, TranscoderConfig config, Device device) {
        TrainerCheckpoint.Saved saved = TrainerCheckpoint.load(dir, config);
        TranscoderTrainer t = new TranscoderTrainer(config, device);
        try {
            t.restore(saved);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private void restore(TrainerCheckpoint.Saved saved) {
        List<NDArray> params = params();
        for (int i = 0; i < params.size(); i++) {
            params.get(i).set(saved.weights().get(i));
        }
        adam.restore(saved.adamStep(), saved.firstMoments(), saved.secondMoments());
        dead.restore(saved.deadTokens());
        TrainerCheckpoint.Counters c = saved.counters();
        step = c.step();
        tokensSeen = c.tokensSeen();
        streamPosition = c.streamPosition();
        random = new TrainingRandom(c.rngState());
        batchThreshold = c.batchThreshold();
        scaling = c.scaling();
        log.clear();
        log.addAll(c.log());
    }

    @Override
    public void close() {
        manager.close();
    }
}
