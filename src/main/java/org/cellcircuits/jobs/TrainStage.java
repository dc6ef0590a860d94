package org.cellcircuits.jobs;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.harvest.ActivationSchema;
import org.cellcircuits.harvest.ActivationStore;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageResult;
import org.cellcircuits.transcoder.StepRecord;
import org.cellcircuits.transcoder.TrainJob;
import org.cellcircuits.transcoder.TrainParams;
import org.cellcircuits.transcoder.TrainingCheckpoints;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code train} stage: one transcoder (or SAE) per harvested layer ({@link TrainJob}), written as
 * {@code transcoders/layer=L/} (cfg.json + weights.safetensors, SAELens/circuit-tracer layout), and every step's
 * metrics as {@code train_log/}. Checkpoints live beside the attempts, under {@code train/checkpoints/}, so a rerun
 * after a crash continues where the last one stopped; once the stage is committed they are deleted.
 */
public final class TrainStage implements Stage {
  private static final Logger LOG = LoggerFactory.getLogger(TrainStage.class);
  /** Steps averaged for the final figures in the marker (one batch is noisy). */
  private static final int FINAL_STEPS = 20;

  /** The training log table. */
  public static final StructType TRAIN_LOG_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("layer", DataTypes.IntegerType, false),
      DataTypes.createStructField("step", DataTypes.LongType, false),
      DataTypes.createStructField("tokens_seen", DataTypes.LongType, false),
      DataTypes.createStructField("loss", DataTypes.DoubleType, false),
      DataTypes.createStructField("mse", DataTypes.DoubleType, false),
      DataTypes.createStructField("l1", DataTypes.DoubleType, false),
      DataTypes.createStructField("l0", DataTypes.DoubleType, false),
      DataTypes.createStructField("dead_fraction", DataTypes.DoubleType, false),
      DataTypes.createStructField("explained_variance", DataTypes.DoubleType, false),
      DataTypes.createStructField("lr", DataTypes.DoubleType, false),
      DataTypes.createStructField("l1_coefficient", DataTypes.DoubleType, false),
      DataTypes.createStructField("resampled", DataTypes.IntegerType, false)});

  /** The resume state of a crashed run, beside the attempts. */
  static TrainingCheckpoints checkpoints(RunRoot root) {
    return new TrainingCheckpoints(new Path(root.stagePath("train"), "checkpoints").toString());
  }

  /**
   * Deletes the checkpoints: the committed transcoders are the result, and the checkpoints (weights and both Adam
   * moments, the newest two per layer) are several times their size; for Pythia-410m at 32x, ~1.6 GB per layer.
   */
  @Override
  public void afterCommit(RunRoot root) throws IOException {
    TrainingCheckpoints checkpoints = checkpoints(root);
    long bytes = checkpoints.deleteAll(root.hadoop());
    if (bytes > 0) {
      LOG.info(String.format(Locale.ROOT, "train: committed; deleted the training checkpoints (%,d bytes) under %s",
          bytes, checkpoints));
    }
  }

  @Override
  public String name() {
    return "train";
  }

  @Override
  public String description() {
    return "train one sparse transcoder per MLP layer on the harvested activations";
  }

  @Override
  public List<String> upstream() {
    return List.of("harvest");
  }

  /**
   * The stage's parameters and one layer's transcoder config. The layer's width is known only from the harvest, so the
   * config is checked at a width no real model exceeds (65,536): a range that depends on it (k <= d_sae) is checked
   * again, exactly, when the stage runs.
   */
  @Override
  public void validate(Config all) {
    TrainParams.fromConfig(all);
    TranscoderConfig.fromConfig(all.getConfig(ConfigLoader.ROOT + ".train"), "validate", 0, 1 << 16, 1 << 16);
  }

  @Override
  public StageResult write(StageContext ctx, String attemptDir) throws Exception {
    RunRoot root = ctx.root();
    TrainParams params = TrainParams.fromConfig(ctx.config());
    Config train = ctx.config().getConfig(ConfigLoader.ROOT + ".train");
    StageMarker harvest = root.requireCommitted("harvest");
    List<Integer> layers = layersToTrain(harvest, params, root);
    String modelName = modelName(harvest);

    List<TrainJob.LayerPlan> plans = new ArrayList<>();
    long totalSteps = 0;
    for (int layer : layers) {
      ActivationStore store = ActivationStore.open(root, layer);
      if (store.rows() == 0) {
        throw new IllegalArgumentException(String.format(
            "layer %d: the harvest under %s stored no activations (held-out split or token policy left none)",
            layer, root.uri()));
      }
      TranscoderConfig config;
      try {
        config = TranscoderConfig.fromConfig(train, modelName, layer, store.dModel(), store.dModel());
      } catch (IllegalArgumentException e) {
        throw new BadConfigException("cellcircuits.train: " + e.getMessage());
      }
      plans.add(new TrainJob.LayerPlan(layer, store, config));
      totalSteps += config.totalSteps();
      LOG.info("train layer {}: {} stored tokens, d_in {} -> d_sae {}, {} steps of {} tokens", layer, store.rows(),
          config.dIn(), config.dSae(), config.totalSteps(), config.trainBatchSizeTokens());
    }
    TrainingCheckpoints checkpoints = checkpoints(root);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(ctx.spark().sparkContext());
    long t0 = System.nanoTime();
    List<TrainJob.LayerOutcome> outcomes;
    try (Progress steps = ctx.progress("train", "steps", totalSteps)) {
      outcomes = TrainJob.run(jsc, plans, params, checkpoints, attemptDir, ctx.settings().overwrite(),
          steps.counter());
    }
    double seconds = (System.nanoTime() - t0) / 1e9;

    List<Row> rows = new ArrayList<>();
    Map<String, Long> tables = new LinkedHashMap<>();
    Map<String, Double> stats = new TreeMap<>();
    long tokensTrainedNow = 0;
    for (TrainJob.LayerOutcome o : outcomes) {
      for (StepRecord r : o.log()) {
        rows.add(RowFactory.create(o.layer(), r.step(), r.tokensSeen(), r.loss(), r.mse(), r.l1(), r.l0(),
            r.deadFraction(), r.explainedVariance(), r.lr(), r.l1Coefficient(), r.resampled()));
      }
      TranscoderConfig c = plans.stream().filter(p -> p.layer() == o.layer()).findFirst().orElseThrow().config();
      tables.put(TranscoderStore.layerTable(o.layer()), (long) c.dSae());
      List<StepRecord> tail = o.log().subList(Math.max(0, o.log().size() - FINAL_STEPS), o.log().size());
      stats.put("explained_variance_layer_" + o.layer(), tail.stream().mapToDouble(StepRecord::explainedVariance)
          .average().orElse(Double.NaN));
      stats.put("l0_layer_" + o.layer(), tail.stream().mapToDouble(StepRecord::l0).average().orElse(Double.NaN));
      stats.put("dead_fraction_layer_" + o.layer(), o.log().isEmpty() ? Double.NaN
          : o.log().get(o.log().size() - 1).deadFraction());
      long before = o.resumedAtStep() == 0 ? 0 : o.log().get((int) o.resumedAtStep() - 1).tokensSeen();
      tokensTrainedNow += o.tokensSeen() - before;
      LOG.info(String.format(Locale.ROOT, "train layer %d: %d steps, %,d tokens, %d epoch(s), final EV %.3f, L0 %.1f, "
              + "dead %.1f%%, %.1f s", o.layer(), o.log().size(), o.tokensSeen(), o.epochs(),
          stats.get("explained_variance_layer_" + o.layer()), stats.get("l0_layer_" + o.layer()),
          100 * stats.get("dead_fraction_layer_" + o.layer()), o.seconds()));
    }
    ctx.spark().createDataFrame(rows, TRAIN_LOG_SCHEMA).coalesce(1).write().parquet(attemptDir + "/train_log");
    tables.put("train_log", (long) rows.size());
    StageResult result = StageResult.of(tables);
    for (Map.Entry<String, Double> s : stats.entrySet()) {
      result = result.withStat(s.getKey(), s.getValue());
    }
    return result.withStat("layers", outcomes.size())
        .withStat("steps", totalSteps)
        .withStat("seconds", seconds)
        .withStat("tokens_per_second", seconds > 0 ? tokensTrainedNow / seconds : Double.NaN);
  }

  /**
   * One line per layer: features, final explained variance and L0 (means over the last training steps) and dead share,
   * from the marker, so a skipped rerun prints the same.
   */
  @Override
  public String report(StageMarker marker) {
    Map<String, Double> s = marker.stats();
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
        "transcoders: %s steps per layer; figures over the last %d training batches%n", count(s.get("steps"),
            s.get("layers")), FINAL_STEPS));
    b.append(String.format(Locale.ROOT, "  %-5s %7s %9s %9s %9s%n", "layer", "d_sae", "expl_var", "l0", "dead"));
    Map<Integer, Long> features = new TreeMap<>();
    for (Map.Entry<String, Long> t : marker.rowCounts().entrySet()) {
      Integer layer = TranscoderStore.layerOfTable(t.getKey());
      if (layer != null) {
        features.put(layer, t.getValue());
      }
    }
    for (Map.Entry<Integer, Long> f : features.entrySet()) {
      int l = f.getKey();
      b.append(String.format(Locale.ROOT, "  %-5d %,7d %9.4f %9.1f %8.1f%%%n", l, f.getValue(),
          s.getOrDefault("explained_variance_layer_" + l, Double.NaN), s.getOrDefault("l0_layer_" + l, Double.NaN),
          100 * s.getOrDefault("dead_fraction_layer_" + l, Double.NaN)));
    }
    return b.toString();
  }

  private static String count(Double steps, Double layers) {
    return steps == null || layers == null || layers == 0 ? "?"
        : String.format(Locale.ROOT, "%,d", Math.round(steps / layers));
  }

  /** The configured layers, each of which must have been harvested; all harvested layers when none is named. */
  static List<Integer> layersToTrain(StageMarker harvest, TrainParams params, RunRoot root) {
    List<Integer> harvested = new ArrayList<>();
    for (String table : harvest.rowCounts().keySet()) {
      Integer layer = ActivationSchema.layerOfTable(table);
      if (layer != null) {
        harvested.add(layer);
      }
    }
    harvested.sort(null);
    if (harvested.isEmpty()) {
      throw new IllegalArgumentException(String.format("the harvest under %s stored no layer", root.uri()));
    }
    if (params.layers().isEmpty()) {
      return harvested;
    }
    for (int layer : params.layers()) {
      if (!harvested.contains(layer)) {
        throw new BadConfigException(String.format(
            "cellcircuits.train.layers names layer %d, but the harvest under %s stored layers %s", layer, root.uri(),
            harvested));
      }
    }
    return params.layers();
  }

  /** The model's folder name, from the harvest's config (cfg.json's model_name). */
  static String modelName(StageMarker harvest) {
    JsonObject config = JsonParser.parseString(harvest.configJson()).getAsJsonObject();
    String path = config.has("model") && config.getAsJsonObject("model").has("path")
        ? config.getAsJsonObject("model").get("path").getAsString() : "unknown";
    String trimmed = path.replaceAll("/+$", "");
    return trimmed.substring(trimmed.lastIndexOf('/') + 1);
  }
}
