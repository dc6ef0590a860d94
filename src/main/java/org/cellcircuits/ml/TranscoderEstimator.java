package org.cellcircuits.ml;

import ai.djl.Device;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
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
 * {@code train} stage's trainer ({@link TranscoderTrainer}) and its hyperparameters: every hyperparameter the stage
 * declares ({@link TranscoderConfig#hyperparameters()}) is one param here, made from its declaration by
 * {@link HyperparameterParams} (name = the key in camelCase, doc = its description with the key and its
 * {@code conf/reference.conf} default, validator = its check, default = reference.conf's), and the
 * {@link TranscoderConfig} is built by the stage's own {@link TranscoderConfig#fromConfig}. The other params are typed
 * here: the columns, {@code modelName} and {@code layer} (not config keys), and how the stage runs
 * ({@link TrainParams}: {@code maxEpochs}, {@code dataParallelWorkers}, {@code dataShards}, {@code microBatchesPerSync};
 * the stage's other such keys keep their reference defaults). {@code fit} returns an immutable {@link TranscoderModel}.
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
  /** Every {@code cellcircuits.train} hyperparameter's param, made from its declaration; accessors below. */
  private final HyperparameterParams hyper;
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
    hyper = HyperparameterParams.of(this);
    // Below: how the stage runs (TrainParams), not hyperparameters; they have no Hyperparameter declaration.
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
    // Defaults only now: setDefault makes MLlib list the params through their accessors, which need every field.
    setColumnDefaults();
    hyper.setDefaults(this);
    Config t = ConfigLoader.reference().getConfig("cellcircuits.train");
    setDefault(modelName, "unknown");
    setDefault(layer, 0);
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
  // One accessor per hyperparameter (MLlib finds params through them); name, doc, validator and default come from
  // the declaration (HyperparameterParams).
  public Param<String> kind() { return hyper.get("kind"); }
  public IntParam expansionFactor() { return hyper.get("expansionFactor"); }
  public DoubleParam l1Coefficient() { return hyper.get("l1Coefficient"); }
  public IntParam l1WarmUpSteps() { return hyper.get("l1WarmUpSteps"); }
  public DoubleParam lr() { return hyper.get("lr"); }
  public DoubleParam adamBeta1() { return hyper.get("adamBeta1"); }
  public DoubleParam adamBeta2() { return hyper.get("adamBeta2"); }
  public DoubleParam adamEpsilon() { return hyper.get("adamEpsilon"); }
  public IntParam lrWarmUpSteps() { return hyper.get("lrWarmUpSteps"); }
  public IntParam lrDecaySteps() { return hyper.get("lrDecaySteps"); }
  public Param<String> lrDecay() { return hyper.get("lrDecay"); }
  public DoubleParam lrEnd() { return hyper.get("lrEnd"); }
  public LongParam trainingTokens() { return hyper.get("trainingTokens"); }
  public IntParam trainBatchSizeTokens() { return hyper.get("trainBatchSizeTokens"); }
  public LongParam deadFeatureWindowTokens() { return hyper.get("deadFeatureWindowTokens"); }
  public BooleanParam resampleDeadFeatures() { return hyper.get("resampleDeadFeatures"); }
  public IntParam resampleIntervalSteps() { return hyper.get("resampleIntervalSteps"); }
  public DoubleParam decoderInitNorm() { return hyper.get("decoderInitNorm"); }
  public LongParam seed() { return hyper.get("seed"); }
  /** Unset (the default) = null: estimated from the data. */
  public DoubleParam inputScale() { return hyper.get("inputScale"); }
  /** Unset (the default) = null: estimated from the data. */
  public DoubleParam targetScale() { return hyper.get("targetScale"); }
  public IntParam scalingBatches() { return hyper.get("scalingBatches"); }
  public Param<String> activation() { return hyper.get("activation"); }
  public IntParam k() { return hyper.get("k"); }
  public DoubleParam auxKCoefficient() { return hyper.get("auxKCoefficient"); }
  public DoubleParam l0Coefficient() { return hyper.get("l0Coefficient"); }
  public DoubleParam jumpreluThresholdInit() { return hyper.get("jumpreluThresholdInit"); }
  public DoubleParam jumpreluBandwidth() { return hyper.get("jumpreluBandwidth"); }
  public DoubleParam batchtopkThresholdRate() { return hyper.get("batchtopkThresholdRate"); }
  public BooleanParam skipConnection() { return hyper.get("skipConnection"); }
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
  public TranscoderEstimator setKind(String v) { set(kind(), v); return this; }
  public TranscoderEstimator setExpansionFactor(int v) { set(expansionFactor(), v); return this; }
  public TranscoderEstimator setL1Coefficient(double v) { set(l1Coefficient(), v); return this; }
  public TranscoderEstimator setL1WarmUpSteps(int v) { set(l1WarmUpSteps(), v); return this; }
  public TranscoderEstimator setLr(double v) { set(lr(), v); return this; }
  public TranscoderEstimator setAdamBeta1(double v) { set(adamBeta1(), v); return this; }
  public TranscoderEstimator setAdamBeta2(double v) { set(adamBeta2(), v); return this; }
  public TranscoderEstimator setAdamEpsilon(double v) { set(adamEpsilon(), v); return this; }
  public TranscoderEstimator setLrWarmUpSteps(int v) { set(lrWarmUpSteps(), v); return this; }
  public TranscoderEstimator setLrDecaySteps(int v) { set(lrDecaySteps(), v); return this; }
  public TranscoderEstimator setLrDecay(String v) { set(lrDecay(), v); return this; }
  public TranscoderEstimator setLrEnd(double v) { set(lrEnd(), v); return this; }
  public TranscoderEstimator setTrainingTokens(long v) { set(trainingTokens(), v); return this; }
  public TranscoderEstimator setTrainBatchSizeTokens(int v) { set(trainBatchSizeTokens(), v); return this; }
  public TranscoderEstimator setDeadFeatureWindowTokens(long v) { set(deadFeatureWindowTokens(), v); return this; }
  public TranscoderEstimator setResampleDeadFeatures(boolean v) { set(resampleDeadFeatures(), v); return this; }
  public TranscoderEstimator setResampleIntervalSteps(int v) { set(resampleIntervalSteps(), v); return this; }
  public TranscoderEstimator setDecoderInitNorm(double v) { set(decoderInitNorm(), v); return this; }
  public TranscoderEstimator setSeed(long v) { set(seed(), v); return this; }
  public TranscoderEstimator setInputScale(double v) { set(inputScale(), v); return this; }
  public TranscoderEstimator setTargetScale(double v) { set(targetScale(), v); return this; }
  public TranscoderEstimator setScalingBatches(int v) { set(scalingBatches(), v); return this; }
  public TranscoderEstimator setActivation(String v) { set(activation(), v); return this; }
  public TranscoderEstimator setK(int v) { set(k(), v); return this; }
  public TranscoderEstimator setAuxKCoefficient(double v) { set(auxKCoefficient(), v); return this; }
  public TranscoderEstimator setL0Coefficient(double v) { set(l0Coefficient(), v); return this; }
  public TranscoderEstimator setJumpreluThresholdInit(double v) { set(jumpreluThresholdInit(), v); return this; }
  public TranscoderEstimator setJumpreluBandwidth(double v) { set(jumpreluBandwidth(), v); return this; }
  public TranscoderEstimator setBatchtopkThresholdRate(double v) { set(batchtopkThresholdRate(), v); return this; }
  public TranscoderEstimator setSkipConnection(boolean v) { set(skipConnection(), v); return this; }
  public TranscoderEstimator setMaxEpochs(int v) { set(maxEpochs, v); return this; }
  public TranscoderEstimator setDataParallelWorkers(int v) { set(dataParallelWorkers, v); return this; }
  public TranscoderEstimator setDataShards(int v) { set(dataShards, v); return this; }
  public TranscoderEstimator setMicroBatchesPerSync(int v) { set(microBatchesPerSync, v); return this; }

  /**
   * The {@code cellcircuits.train} section these params give: every hyperparameter's param's value (null where
   * unset) and the distribution params' over the reference defaults.
   */
  Config trainSection() {
    Config reference = ConfigLoader.reference().getConfig("cellcircuits.train");
    return hyper.applyTo(this, reference)
        .withValue("max-epochs", ConfigValueFactory.fromAnyRef($(maxEpochs)))
        .withValue("data-parallel-workers", ConfigValueFactory.fromAnyRef($(dataParallelWorkers)))
        .withValue("data-shards", ConfigValueFactory.fromAnyRef($(dataShards)))
        .withValue("micro-batches-per-sync", ConfigValueFactory.fromAnyRef($(microBatchesPerSync)));
  }

  /** The stage's config for data of these widths. */
  public TranscoderConfig transcoderConfig(int dIn, int dOut) {
    return TranscoderConfig.fromConfig(trainSection(), $(modelName), (Integer) $(layer), dIn, dOut);
  }

  private boolean autoencoding() {
    return TranscoderKind.parse($(kind())) == TranscoderKind.SAE;
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
