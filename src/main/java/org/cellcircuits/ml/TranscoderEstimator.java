package org.cellcircuits.ml;

import ai.djl.Device;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.SerializableConfiguration;
import org.cellcircuits.jobs.ConfigLoader;
import org.cellcircuits.transcoder.TrainJob;
import org.cellcircuits.transcoder.TrainOptions;
import org.cellcircuits.transcoder.TrainParams;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderKind;
import org.cellcircuits.transcoder.TranscoderTrainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains one layer's transcoder (or SAE) on a DataFrame of {@code (mlp_in, mlp_out)} activations with the
 * {@code train} stage's trainer ({@link TranscoderTrainer}) and its hyperparameters: each param below is the
 * {@code cellcircuits.train} key in its doc, with that key's default read from {@code conf/reference.conf}, and the
 * {@link TranscoderConfig} is built by the stage's own {@link TranscoderConfig#fromConfig}; keys without a param here
 * keep their reference defaults. {@code fit} returns an immutable {@link TranscoderModel}.
 *
 * <p>Where it runs: with {@code dataParallelWorkers = 1} and {@code dataShards} 0 or 1 (the defaults), on the driver,
 * one layer, the rows streamed in the Dataset's order, {@code trainBatchSizeTokens} rows a step (see
 * {@code DatasetBatches}), the layer-parallel stage's loop without its shuffle buffer and checkpoints. Given the same
 * rows in the same order it trains bit-identical weights to {@code TranscoderTrainer} run directly (tested).
 * Otherwise data-parallel, through the stage's own loop ({@link TrainJob#trainDataParallel} and its
 * executor side): the Dataset's partitions are cut into {@code dataShards} shards ({@code DatasetShards}: partitions
 * {@code p mod dataShards}), each step is a Spark job whose {@code dataParallelWorkers} tasks sum their shards'
 * gradients, and the driver applies one Adam update; the weights depend on the shards, not the workers (tested).
 */
public final class TranscoderEstimator extends Estimator<TranscoderModel>
    implements TranscoderParams, DefaultParamsWritable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(TranscoderEstimator.class);

  private final String uid;
  private final Param<String> inputCol;
  private final Param<String> targetCol;
  private final Param<String> featuresCol;
  private final Param<String> reconstructionCol;

  private final Param<String> modelName;
  private final IntParam layer;
  private final Param<String> kind;
  private final Param<String> activation;
  private final IntParam k;
  private final BooleanParam skipConnection;
  private final IntParam expansionFactor;
  private final DoubleParam l1Coefficient;
  private final IntParam l1WarmUpSteps;
  private final DoubleParam lr;
  private final IntParam lrWarmUpSteps;
  private final IntParam lrDecaySteps;
  private final LongParam trainingTokens;
  private final IntParam trainBatchSizeTokens;
  private final LongParam deadFeatureWindowTokens;
  private final BooleanParam resampleDeadFeatures;
  private final IntParam resampleIntervalSteps;
  private final IntParam scalingBatches;
  private final LongParam seed;
  private final IntParam maxEpochs;
  private final IntParam dataParallelWorkers;
  private final IntParam dataShards;
  private final IntParam microBatchesPerSync;

  public TranscoderEstimator() {
    this(Identifiable$.MODULE$.randomUID("transcoder"));
  }

  public TranscoderEstimator(String uid) {
    this.uid = uid;
    // Params take their owner's uid when made, so they are made here, after it is set.
    inputCol = TranscoderParams.inputCol(this);
    targetCol = TranscoderParams.targetCol(this);
    featuresCol = TranscoderParams.featuresCol(this);
    reconstructionCol = TranscoderParams.reconstructionCol(this);
    modelName = new Param<>(this, "modelName", "the model the activations came from "
      + "(provenance, SAELens model_name), not blank; default 'unknown'", MlParams.<String>validator(s -> !s.isBlank()));
    layer = new IntParam(this, "layer", "block index L of the activations (>= 0): hooks "
      + "blocks.L.ln2.hook_normalized and blocks.L.hook_mlp_out; default 0", ParamValidators.gtEq(0));
    kind = new Param<>(this, "kind", "(train.kind) transcoder (target = MLP output) or "
      + "sae (target = MLP input)", ParamValidators.inArray(Arrays.asList("transcoder", "sae")));
    activation = new Param<>(this, "activation", "(train.activation) relu, jumprelu, "
      + "topk or batchtopk", ParamValidators.inArray(Arrays.asList("relu", "jumprelu", "topk", "batchtopk")));
    k = new IntParam(this, "k", "(train.k) active features per token for topk/batchtopk (>= 1)",
      ParamValidators.gtEq(1));
    skipConnection = new BooleanParam(this, "skipConnection", "(train.skip-connection) a "
      + "learned linear skip path from input to output");
    expansionFactor = new IntParam(this, "expansionFactor", "(train.expansion-factor) d_sae / "
      + "d_in (>= 1)", ParamValidators.gtEq(1));
    l1Coefficient = new DoubleParam(this, "l1Coefficient", "(train.l1-coefficient) sparsity "
      + "penalty lambda (>= 0)", ParamValidators.gtEq(0));
    l1WarmUpSteps = new IntParam(this, "l1WarmUpSteps", "(train.l1-warm-up-steps) >= 0",
      ParamValidators.gtEq(0));
    lr = new DoubleParam(this, "lr", "(train.lr) Adam learning rate (> 0)",
      ParamValidators.gt(0));
    lrWarmUpSteps = new IntParam(this, "lrWarmUpSteps", "(train.lr-warm-up-steps) >= 0",
      ParamValidators.gtEq(0));
    lrDecaySteps = new IntParam(this, "lrDecaySteps", "(train.lr-decay-steps) >= 0; warm-up + "
      + "decay must fit in the run", ParamValidators.gtEq(0));
    trainingTokens = new LongParam(this, "trainingTokens", "(train.training-tokens) rows to "
      + "train on (>= 1); steps = ceil(trainingTokens / trainBatchSizeTokens)", ParamValidators.gtEq(1));
    trainBatchSizeTokens = new IntParam(this, "trainBatchSizeTokens",
      "(train.train-batch-size-tokens) rows a step (>= 1)", ParamValidators.gtEq(1));
    deadFeatureWindowTokens = new LongParam(this, "deadFeatureWindowTokens",
      "(train.dead-feature-window-tokens) >= 1", ParamValidators.gtEq(1));
    resampleDeadFeatures = new BooleanParam(this, "resampleDeadFeatures",
      "(train.resample-dead-features)");
    resampleIntervalSteps = new IntParam(this, "resampleIntervalSteps",
      "(train.resample-interval-steps) >= 1", ParamValidators.gtEq(1));
    scalingBatches = new IntParam(this, "scalingBatches", "(train.scaling-batches) batches read "
      + "to estimate the activation scaling (>= 1)", ParamValidators.gtEq(1));
    seed = new LongParam(this, "seed", "(train.seed) seeds weight init and resampling");
    maxEpochs = new IntParam(this, "maxEpochs", "(train.max-epochs) passes over the rows at "
      + "most (>= 1)", ParamValidators.gtEq(1));
    dataParallelWorkers = new IntParam(this, "dataParallelWorkers", "(train.data-parallel-workers) Spark tasks "
      + "per step (>= 1); with dataShards 1 and 1 worker fit trains on the driver, otherwise data-parallel",
      ParamValidators.gtEq(1));
    dataShards = new IntParam(this, "dataShards", "(train.data-shards) streams the rows are cut into for "
      + "data-parallel training, each of whole Dataset partitions (>= 0, a multiple of dataParallelWorkers; 0 = "
      + "dataParallelWorkers)", ParamValidators.gtEq(0));
    microBatchesPerSync = new IntParam(this, "microBatchesPerSync", "(train.micro-batches-per-sync) pieces each "
      + "shard's rows of a step are computed in (>= 1)", ParamValidators.gtEq(1));
    setColumnDefaults();
    Config t = ConfigLoader.reference().getConfig("cellcircuits.train");
    setDefault(modelName, "unknown");
    setDefault(layer, 0);
    setDefault(kind, t.getString("kind"));
    setDefault(activation, t.getString("activation"));
    setDefault(k, t.getInt("k"));
    setDefault(skipConnection, t.getBoolean("skip-connection"));
    setDefault(expansionFactor, t.getInt("expansion-factor"));
    setDefault(l1Coefficient, t.getDouble("l1-coefficient"));
    setDefault(l1WarmUpSteps, t.getInt("l1-warm-up-steps"));
    setDefault(lr, t.getDouble("lr"));
    setDefault(lrWarmUpSteps, t.getInt("lr-warm-up-steps"));
    setDefault(lrDecaySteps, t.getInt("lr-decay-steps"));
    setDefault(trainingTokens, t.getLong("training-tokens"));
    setDefault(trainBatchSizeTokens, t.getInt("train-batch-size-tokens"));
    setDefault(deadFeatureWindowTokens, t.getLong("dead-feature-window-tokens"));
    setDefault(resampleDeadFeatures, t.getBoolean("resample-dead-features"));
    setDefault(resampleIntervalSteps, t.getInt("resample-interval-steps"));
    setDefault(scalingBatches, t.getInt("scaling-batches"));
    setDefault(seed, t.getLong("seed"));
    setDefault(maxEpochs, t.getInt("max-epochs"));
    setDefault(dataParallelWorkers, t.getInt("data-parallel-workers"));
    setDefault(dataShards, t.getInt("data-shards"));
    setDefault(microBatchesPerSync, t.getInt("micro-batches-per-sync"));
  }

  @Override
  public String uid() {
    return uid;
  }

  @Override public Param<String> inputCol() { return inputCol; }
  @Override public Param<String> targetCol() { return targetCol; }
  @Override public Param<String> featuresCol() { return featuresCol; }
  @Override public Param<String> reconstructionCol() { return reconstructionCol; }
  public Param<String> modelName() { return modelName; }
  public IntParam layer() { return layer; }
  public Param<String> kind() { return kind; }
  public Param<String> activation() { return activation; }
  public IntParam k() { return k; }
  public BooleanParam skipConnection() { return skipConnection; }
  public IntParam expansionFactor() { return expansionFactor; }
  public DoubleParam l1Coefficient() { return l1Coefficient; }
  public IntParam l1WarmUpSteps() { return l1WarmUpSteps; }
  public DoubleParam lr() { return lr; }
  public IntParam lrWarmUpSteps() { return lrWarmUpSteps; }
  public IntParam lrDecaySteps() { return lrDecaySteps; }
  public LongParam trainingTokens() { return trainingTokens; }
  public IntParam trainBatchSizeTokens() { return trainBatchSizeTokens; }
  public LongParam deadFeatureWindowTokens() { return deadFeatureWindowTokens; }
  public BooleanParam resampleDeadFeatures() { return resampleDeadFeatures; }
  public IntParam resampleIntervalSteps() { return resampleIntervalSteps; }
  public IntParam scalingBatches() { return scalingBatches; }
  public LongParam seed() { return seed; }
  public IntParam maxEpochs() { return maxEpochs; }
  public IntParam dataParallelWorkers() { return dataParallelWorkers; }
  public IntParam dataShards() { return dataShards; }
  public IntParam microBatchesPerSync() { return microBatchesPerSync; }

  public TranscoderEstimator setInputCol(String v) { set(inputCol, v); return this; }
  public TranscoderEstimator setTargetCol(String v) { set(targetCol, v); return this; }
  public TranscoderEstimator setFeaturesCol(String v) { set(featuresCol, v); return this; }
  public TranscoderEstimator setReconstructionCol(String v) { set(reconstructionCol, v); return this; }
  public TranscoderEstimator setModelName(String v) { set(modelName, v); return this; }
  public TranscoderEstimator setLayer(int v) { set(layer, v); return this; }
  public TranscoderEstimator setKind(String v) { set(kind, v); return this; }
  public TranscoderEstimator setActivation(String v) { set(activation, v); return this; }
  public TranscoderEstimator setK(int v) { set(k, v); return this; }
  public TranscoderEstimator setSkipConnection(boolean v) { set(skipConnection, v); return this; }
  public TranscoderEstimator setExpansionFactor(int v) { set(expansionFactor, v); return this; }
  public TranscoderEstimator setL1Coefficient(double v) { set(l1Coefficient, v); return this; }
  public TranscoderEstimator setL1WarmUpSteps(int v) { set(l1WarmUpSteps, v); return this; }
  public TranscoderEstimator setLr(double v) { set(lr, v); return this; }
  public TranscoderEstimator setLrWarmUpSteps(int v) { set(lrWarmUpSteps, v); return this; }
  public TranscoderEstimator setLrDecaySteps(int v) { set(lrDecaySteps, v); return this; }
  public TranscoderEstimator setTrainingTokens(long v) { set(trainingTokens, v); return this; }
  public TranscoderEstimator setTrainBatchSizeTokens(int v) { set(trainBatchSizeTokens, v); return this; }
  public TranscoderEstimator setDeadFeatureWindowTokens(long v) { set(deadFeatureWindowTokens, v); return this; }
  public TranscoderEstimator setResampleDeadFeatures(boolean v) { set(resampleDeadFeatures, v); return this; }
  public TranscoderEstimator setResampleIntervalSteps(int v) { set(resampleIntervalSteps, v); return this; }
  public TranscoderEstimator setScalingBatches(int v) { set(scalingBatches, v); return this; }
  public TranscoderEstimator setSeed(long v) { set(seed, v); return this; }
  public TranscoderEstimator setMaxEpochs(int v) { set(maxEpochs, v); return this; }
  public TranscoderEstimator setDataParallelWorkers(int v) { set(dataParallelWorkers, v); return this; }
  public TranscoderEstimator setDataShards(int v) { set(dataShards, v); return this; }
  public TranscoderEstimator setMicroBatchesPerSync(int v) { set(microBatchesPerSync, v); return this; }

  /** The {@code cellcircuits.train} section these params give: reference defaults under the params' values. */
  Config trainSection() {
    Map<String, Object> m = new HashMap<>();
    m.put("kind", $(kind));
    m.put("activation", $(activation));
    m.put("k", $(k));
    m.put("skip-connection", $(skipConnection));
    m.put("expansion-factor", $(expansionFactor));
    m.put("l1-coefficient", $(l1Coefficient));
    m.put("l1-warm-up-steps", $(l1WarmUpSteps));
    m.put("lr", $(lr));
    m.put("lr-warm-up-steps", $(lrWarmUpSteps));
    m.put("lr-decay-steps", $(lrDecaySteps));
    m.put("training-tokens", $(trainingTokens));
    m.put("train-batch-size-tokens", $(trainBatchSizeTokens));
    m.put("dead-feature-window-tokens", $(deadFeatureWindowTokens));
    m.put("resample-dead-features", $(resampleDeadFeatures));
    m.put("resample-interval-steps", $(resampleIntervalSteps));
    m.put("scaling-batches", $(scalingBatches));
    m.put("seed", $(seed));
    m.put("max-epochs", $(maxEpochs));
    m.put("data-parallel-workers", $(dataParallelWorkers));
    m.put("data-shards", $(dataShards));
    m.put("micro-batches-per-sync", $(microBatchesPerSync));
    return ConfigFactory.parseMap(m).withFallback(ConfigLoader.reference().getConfig("cellcircuits.train"));
  }

  /** The stage's config for data of these widths. */
  public TranscoderConfig transcoderConfig(int dIn, int dOut) {
    return TranscoderConfig.fromConfig(trainSection(), $(modelName), (Integer) $(layer), dIn, dOut);
  }

  private boolean autoencoding() {
    return TranscoderKind.parse($(kind)) == TranscoderKind.SAE;
  }

  @Override
  public StructType transformSchema(StructType schema) {
    if (!autoencoding()) {
      TranscoderParams.requireActivations(schema, "targetCol", getTargetCol());
    }
    return outputSchema(schema);
  }

  @Override
  public TranscoderModel fit(Dataset<?> dataset) {
    transformSchema(dataset.schema());
    boolean sae = autoencoding();
    Dataset<Row> rows = sae ? dataset.select(getInputCol()) : dataset.select(getInputCol(), getTargetCol());
    Row first = rows.head();
    int dIn = ActivationValues.width(first, 0);
    int dOut = sae ? dIn : ActivationValues.width(first, 1);
    TranscoderConfig config = transcoderConfig(dIn, dOut);
    TrainParams params = trainParams();
    try (TranscoderTrainer trainer = TranscoderTrainer.create(config, Device.cpu())) {
      if (params.layerParallel()) {
        DatasetBatches batches = new DatasetBatches(rows, getInputCol(), getTargetCol(), dIn, dOut,
            config.trainBatchSizeTokens(), params.maxEpochs(), sae);
        trainer.train(batches, TrainOptions.logTo(LOG::info, "layer " + config.layer() + " (TranscoderEstimator)"));
      } else {
        trainDataParallel(rows, config, params, trainer, dIn, dOut, sae);
      }
      try (Transcoder t = trainer.transcoder()) {
        TranscoderModel model = new TranscoderModel(uid, TranscoderModel.Weights.of(t));
        return copyValues(model.setParent(this), ParamMap.empty());
      }
    }
  }

  /**
   * The stage's {@link TrainParams} of these params: the distribution keys (workers, shards, micro-batches, epochs),
   * validated by the stage's own record; the device is the CPU, as for the driver-side fit.
   */
  TrainParams trainParams() {
    return TrainParams.fromConfig(ConfigFactory.parseMap(Map.of("cellcircuits.train",
        trainSection().withValue("device", ConfigValueFactory.fromAnyRef("cpu")).root().unwrapped())));
  }

  /** The train stage's data-parallel loop ({@link TrainJob#trainDataParallel}) over rows' partitions. */
  private void trainDataParallel(Dataset<Row> rows, TranscoderConfig config, TrainParams params,
      TranscoderTrainer trainer, int dIn, int dOut, boolean sae) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(rows.sparkSession().sparkContext());
    DatasetShards source = new DatasetShards(rows, getInputCol(), getTargetCol(), dIn, dOut, sae);
    LOG.info("layer {} (TranscoderEstimator): data-parallel, {} workers over {} shards of {} rows", config.layer(),
        params.workers(), params.shards(), source.rows());
    Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(jsc.hadoopConfiguration()));
    try {
      TrainJob.trainDataParallel(jsc,
          new TrainJob.ShardedLayer(config.layer(), source, config), params, conf, trainer,
          new long[params.shards()], 0, (t, positions, used) -> { });
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } finally {
      conf.destroy();
    }
  }

  @Override
  public TranscoderEstimator copy(ParamMap extra) {
    return (TranscoderEstimator) defaultCopy(extra);
  }

  public static MLReader<TranscoderEstimator> read() {
    return new DefaultParamsReader<>();
  }

  public static TranscoderEstimator load(String path) {
    return read().load(path);
  }
}
