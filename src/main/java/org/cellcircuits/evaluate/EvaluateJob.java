package org.cellcircuits.evaluate;

import ai.djl.Device;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FilterFunction;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.runtime.ExecutorTranscoders;
import org.cellcircuits.runtime.ModelFolder;
import org.cellcircuits.sentences.CellSplit;
import org.cellcircuits.sentences.SentencesJob;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderCfgJson;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The evaluation as a Spark job: the held-out cells of the committed sentences table are spread over tasks; each task
 * scores its cells with the model and transcoders its executor JVM holds ({@link ExecutorModels},
 * {@link ExecutorTranscoders}) and returns one {@link EvaluationSums}; the driver adds them up
 * ({@code treeAggregate}) and writes {@code evaluation/summary}, {@code evaluation/layers} (Parquet) and
 * {@code evaluation/evaluation.json}.
 */
public final class EvaluateJob {
  private static final Logger LOG = LoggerFactory.getLogger(EvaluateJob.class);

  /** The tables under the attempt folder. */
  public static final String SUMMARY_TABLE = "evaluation/summary";
  public static final String LAYERS_TABLE = "evaluation/layers";
  public static final String JSON_FILE = "evaluation/evaluation.json";

  /** One row per model variant. */
  public static final StructType SUMMARY_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("variant", DataTypes.StringType, false),
      DataTypes.createStructField("layer", DataTypes.IntegerType, true),
      DataTypes.createStructField("answer_loss", DataTypes.DoubleType, false),
      DataTypes.createStructField("prompt_loss", DataTypes.DoubleType, false),
      DataTypes.createStructField("kl", DataTypes.DoubleType, false),
      DataTypes.createStructField("answer_kl", DataTypes.DoubleType, false),
      DataTypes.createStructField("accuracy", DataTypes.DoubleType, true),
      DataTypes.createStructField("cells", DataTypes.LongType, false),
      DataTypes.createStructField("annotated_cells", DataTypes.LongType, false),
      DataTypes.createStructField("answer_tokens", DataTypes.LongType, false),
      DataTypes.createStructField("prompt_tokens", DataTypes.LongType, false)});

  /** One row per dictionary layer. */
  public static final StructType LAYERS_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("layer", DataTypes.IntegerType, false),
      DataTypes.createStructField("kind", DataTypes.StringType, false),
      DataTypes.createStructField("d_sae", DataTypes.IntegerType, false),
      DataTypes.createStructField("explained_variance", DataTypes.DoubleType, false),
      DataTypes.createStructField("l0", DataTypes.DoubleType, false),
      DataTypes.createStructField("never_fired_share", DataTypes.DoubleType, false),
      DataTypes.createStructField("tokens", DataTypes.LongType, false),
      DataTypes.createStructField("answer_loss_replaced_only_this_layer", DataTypes.DoubleType, false),
      DataTypes.createStructField("prompt_loss_replaced_only_this_layer", DataTypes.DoubleType, false),
      DataTypes.createStructField("kl_replaced_only_this_layer", DataTypes.DoubleType, false)});

  private EvaluateJob() {}

  /**
   * What the job did.
   *
   * @param result the figures
   * @param cellIds the held-out cells scored, sorted
   * @param seconds wall time
   */
  public record Outcome(EvaluationResult result, List<String> cellIds, double seconds) {}

  /**
   * One committed dictionary as its cfg.json describes it.
   *
   * @param layer the block it belongs to
   * @param folder its folder (cfg.json + weights.safetensors) in the committed train attempt
   * @param config its config
   */
  public record Dictionary(int layer, String folder, TranscoderConfig config) {}

  /**
   * What the evaluation will score, settled on the driver before any task starts: the inputs are checked (sentences
   * columns, model, every dictionary against the model) and the held-out cells chosen.
   *
   * @param sentencesPath the committed sentences table
   * @param model the model's shape
   * @param dictionaries the committed transcoders, in layer order
   * @param heldOut held-out cells in the sentences table
   * @param cellIds the cells to score (all held-out cells, or a seeded draw of max-cells of them), sorted
   */
  public record Plan(String sentencesPath, NeoXConfig model, List<Dictionary> dictionaries, long heldOut,
      List<String> cellIds) {
    public Plan {
      dictionaries = List.copyOf(dictionaries);
      cellIds = List.copyOf(cellIds);
    }
  }

  /**
   * Checks the inputs and chooses the cells.
   *
   * @throws org.cellcircuits.io.StageNotCommittedException when the sentences or train stage has not committed
   * @throws IllegalArgumentException when a dictionary does not fit the model, or no cell is held out
   */
  public static Plan plan(SparkSession spark, RunRoot root, EvaluateParams params) throws IOException {
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    String sentencesPath = root.committedPath("sentences", "sentences").toString();
    NeoXConfig model = ModelFolder.checkedConfig(ModelFolder.local(params.model().path(), hadoop));
    List<Dictionary> dictionaries = committedDictionaries(root, model);
    Dataset<Row> sentences = spark.read().parquet(sentencesPath);
    SentencesJob.checkSchema(sentences.schema(), sentencesPath);

    CellSplit split = params.split();
    List<String> cellIds = new ArrayList<>(sentences.select("cell_id").as(Encoders.STRING())
        .filter((FilterFunction<String>) id -> id != null && split.isHeldOut(id)).collectAsList());
    Collections.sort(cellIds);
    if (cellIds.isEmpty()) {
      throw new IllegalArgumentException(String.format(
          "no held-out cells in the sentences table %s: the split (%s) holds out none of its cells. Raise "
              + "cellcircuits.split.held-out-fraction, or add cells", sentencesPath, split.describe()));
    }
    long heldOut = cellIds.size();
    if (params.maxCells() > 0 && cellIds.size() > params.maxCells()) {
      // A seeded draw, not the first ids in order: ids often carry the sample or cell type in a prefix.
      List<String> shuffled = new ArrayList<>(cellIds);
      Collections.shuffle(shuffled, new Random(split.seed()));
      cellIds = new ArrayList<>(shuffled.subList(0, (int) params.maxCells()));
      Collections.sort(cellIds);
    }
    return new Plan(sentencesPath, model, dictionaries, heldOut, cellIds);
  }

  /**
   * Runs the evaluation of a plan and writes its tables under {@code attemptDir}.
   *
   * @param stageConfigJson the stage's canonical config, recorded in evaluation.json
   * @param cellsDone executors add scored cells (may be null)
   */
  public static Outcome run(SparkSession spark, Plan plan, EvaluateParams params, String attemptDir,
      String stageConfigJson, LongAccumulator cellsDone) throws IOException {
    long start = System.nanoTime();
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    List<String> cellIds = plan.cellIds();
    List<Dictionary> dictionaries = plan.dictionaries();
    int partitions = (int) Math.max(1, (cellIds.size() + params.cellsPerTask() - 1) / params.cellsPerTask());
    LOG.info("evaluate: {} of {} held-out cells ({}) in {} tasks; transcoders of layers {} of {}", cellIds.size(),
        plan.heldOut(), params.split().describe(), partitions, dictionaries.stream().map(Dictionary::layer).toList(),
        plan.model().numLayers());

    if (dictionaries.size() < plan.model().numLayers()) {
      LOG.warn("evaluate: the train stage made transcoders for {} of the model's {} layers; replaced_all replaces "
          + "only those, the other MLPs stay", dictionaries.size(), plan.model().numLayers());
    }
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
    Broadcast<Set<String>> chosen = jsc.broadcast(new HashSet<>(cellIds));
    JavaRDD<Row> input = spark.read().parquet(plan.sentencesPath())
        .select(functions.col("cell_id"), functions.col("cell_type"), functions.col("genes"), functions.col("prompt"))
        .javaRDD()
        .filter(r -> !r.isNullAt(0) && chosen.value().contains(r.getString(0)))
        .repartition(partitions);
    int[] layers = dictionaries.stream().mapToInt(Dictionary::layer).toArray();
    int[] widths = dictionaries.stream().mapToInt(d -> CellEvaluator.targetWidth(d.config())).toArray();
    int[] features = dictionaries.stream().mapToInt(d -> d.config().dSae()).toArray();
    Map<Integer, String> folders = new TreeMap<>();
    dictionaries.forEach(d -> folders.put(d.layer(), d.folder()));
    EvaluationSums total = input
        .mapPartitions(new EvaluateTask(params, folders, conf, cellsDone))
        .treeAggregate(new EvaluationSums(layers, widths, features), EvaluationSums::add, EvaluationSums::add);
    chosen.destroy();
    if (total.cells() != cellIds.size()) {
      throw new IllegalStateException(String.format(
          "evaluate: tasks scored %d cells; %d held-out cells were chosen (is a cell_id in the sentences table twice?)",
          total.cells(), cellIds.size()));
    }
    EvaluationResult result = EvaluationResult.of(total,
        dictionaries.stream().map(d -> d.config().kind().configName()).toList());
    long w0 = System.nanoTime();
    write(spark, attemptDir, result, plan, params, stageConfigJson);
    LOG.info(String.format(Locale.ROOT, "evaluate: tables written in %.1f s", (System.nanoTime() - w0) / 1e9));
    double seconds = (System.nanoTime() - start) / 1e9;
    LOG.info(String.format(Locale.ROOT, "evaluate: %d cells in %.1f s%n%s", cellIds.size(), seconds,
        EvaluationResult.table(result.stats())));
    return new Outcome(result, cellIds, seconds);
  }

  /**
   * The committed train stage's dictionaries, read from their cfg.json files and checked against the model.
   *
   * @throws org.cellcircuits.io.StageNotCommittedException when the train stage has not committed
   */
  public static List<Dictionary> committedDictionaries(RunRoot root, NeoXConfig model) throws IOException {
    List<Dictionary> out = committedDictionaries(root);
    for (Dictionary d : out) {
      TranscoderConfig c = d.config();
      CellEvaluator.checkFits(d.layer(), c.dIn(), c.dOut(), c.layer(), model.numLayers(), model.hiddenSize());
    }
    return out;
  }

  /**
   * The committed train stage's dictionaries, read from their cfg.json files, for a reader that has no model to check
   * them against (the interpret stage checks d_in against the harvest instead).
   *
   * @throws org.cellcircuits.io.StageNotCommittedException when the train stage has not committed
   * @throws FileNotFoundException when it committed no transcoder
   */
  public static List<Dictionary> committedDictionaries(RunRoot root) throws IOException {
    Map<Integer, Path> layers = TranscoderStore.committedLayers(root);
    if (layers.isEmpty()) {
      throw new FileNotFoundException(String.format(
          "the train stage under %s committed no transcoders (no table %s)", root.uri(), "transcoders/layer=L"));
    }
    List<Dictionary> out = new ArrayList<>();
    for (Map.Entry<Integer, Path> e : layers.entrySet()) {
      Path cfg = new Path(e.getValue(), Transcoder.CONFIG_FILE);
      FileSystem fs = cfg.getFileSystem(root.hadoop());
      JsonObject json;
      try (InputStream in = fs.open(cfg)) {
        json = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
      } catch (FileNotFoundException ex) {
        throw new FileNotFoundException(String.format(
            "transcoder of layer %d has no %s at %s; the train stage's output is incomplete", e.getKey(),
            Transcoder.CONFIG_FILE, cfg));
      } catch (JsonParseException | IllegalStateException ex) {
        throw new IllegalArgumentException(cfg + " is not a JSON object: " + ex.getMessage(), ex);
      }
      TranscoderConfig c = TranscoderCfgJson.read(json, cfg.toString()).config();
      out.add(new Dictionary(e.getKey(), e.getValue().toString(), c));
    }
    return out;
  }

  private static void write(SparkSession spark, String attemptDir, EvaluationResult result, Plan plan,
      EvaluateParams params, String stageConfigJson) throws IOException {
    NeoXConfig model = plan.model();
    List<Row> summary = new ArrayList<>();
    for (EvaluationResult.VariantScore v : result.variants()) {
      summary.add(RowFactory.create(v.variant(), v.layer(), v.answerLoss(), v.promptLoss(), v.kl(), v.answerKl(),
          v.accuracy(), result.cells(), result.annotatedCells(), result.answerTokens(), result.promptTokens()));
    }
    List<Row> layers = new ArrayList<>();
    for (EvaluationResult.LayerScore l : result.layers()) {
      layers.add(RowFactory.create(l.layer(), l.kind(), l.dSae(), l.explainedVariance(), l.l0(),
          l.neverFiredShare(), l.tokens(), l.answerLossReplacedOnlyThisLayer(), l.promptLossReplacedOnlyThisLayer(),
          l.klReplacedOnlyThisLayer()));
    }
    spark.createDataFrame(summary, SUMMARY_SCHEMA).coalesce(1).write().parquet(attemptDir + "/" + SUMMARY_TABLE);
    spark.createDataFrame(layers, LAYERS_SCHEMA).coalesce(1).write().parquet(attemptDir + "/" + LAYERS_TABLE);

    JsonObject json = new JsonObject();
    json.addProperty("stage", "evaluate");
    json.add("config", JsonParser.parseString(stageConfigJson));
    json.addProperty("model", params.model().path());
    json.addProperty("model_layers", model.numLayers());
    json.addProperty("d_model", model.hiddenSize());
    JsonObject tc = new JsonObject();
    for (Dictionary d : plan.dictionaries()) {
      JsonObject j = new JsonObject();
      j.addProperty("folder", d.folder());
      j.addProperty("kind", d.config().kind().configName());
      j.addProperty("d_sae", d.config().dSae());
      j.addProperty("config_hash", d.config().hash());
      tc.add(Integer.toString(d.layer()), j);
    }
    json.add("transcoders", tc);
    JsonObject split = new JsonObject();
    split.addProperty("held_out_fraction", params.split().heldOutFraction());
    split.addProperty("seed", params.split().seed());
    split.addProperty("held_out_cells", plan.heldOut());
    split.addProperty("max_cells", params.maxCells());
    json.add("split", split);
    json.addProperty("positions", "answer_loss and answer_kl: the annotated answer's tokens, each given the prompt "
        + "and the answer tokens before it; prompt_loss and kl: every next-token position of prompt + answer; "
        + "dictionaries: every prompt token except special tokens, on the original model's activations");
    JsonObject figures = result.toJson();
    for (String key : figures.keySet()) {
      json.add(key, figures.get(key));
    }
    JsonArray ids = new JsonArray();
    plan.cellIds().forEach(ids::add);
    json.add("cell_ids", ids);
    Path file = new Path(attemptDir, JSON_FILE);
    FileSystem fs = file.getFileSystem(spark.sparkContext().hadoopConfiguration());
    try (OutputStream out = fs.create(file, false)) {
      out.write((new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create().toJson(json)
          + "\n").getBytes(StandardCharsets.UTF_8));
    }
  }

  /** The work of one task. */
  private static final class EvaluateTask implements FlatMapFunction<Iterator<Row>, EvaluationSums> {
    private static final long serialVersionUID = 1L;
    private final EvaluateParams params;
    private final Map<Integer, String> folders;
    private final Broadcast<SerializableConfiguration> conf;
    private final LongAccumulator cellsDone;

    EvaluateTask(EvaluateParams params, Map<Integer, String> folders, Broadcast<SerializableConfiguration> conf,
        LongAccumulator cellsDone) {
      this.params = params;
      this.folders = new TreeMap<>(folders);
      this.conf = conf;
      this.cellsDone = cellsDone;
    }

    @Override
    public Iterator<EvaluationSums> call(Iterator<Row> rows) {
      List<CellPrompt> cells = new ArrayList<>();
      while (rows.hasNext()) {
        Row r = rows.next();
        String cellId = r.getString(0);
        List<String> genes = r.isNullAt(2) ? List.of() : r.getList(2);
        if (r.isNullAt(3)) {
          throw new IllegalArgumentException(String.format("cell %s has no prompt (null)", cellId));
        }
        cells.add(new CellPrompt(cellId, r.isNullAt(1) ? null : r.getString(1), genes, r.getString(3)));
      }
      if (cells.isEmpty()) {
        return Collections.emptyIterator();
      }
      long start = System.nanoTime();
      TaskContext tc = TaskContext.get();
      Configuration hadoop = conf.value().value();
      ExecutorModels.Loaded loaded = ExecutorModels.get(params.model(), tc == null ? 1 : tc.cpus(), hadoop);
      Device device = loaded.model().device();
      SortedMap<Integer, Transcoder> dictionaries = new TreeMap<>();
      folders.forEach((layer, folder) -> dictionaries.put(layer, ExecutorTranscoders.get(folder, device, hadoop)));
      CellEvaluator evaluator = new CellEvaluator(loaded, dictionaries, params);
      EvaluationSums sums = evaluator.emptySums();
      evaluator.evaluate(cells, sums);
      if (cellsDone != null) {
        cellsDone.add(cells.size());
      }
      LOG.info(String.format(Locale.ROOT, "evaluate task %d: %d cells in %.1f s", tc == null ? -1 : tc.partitionId(),
          cells.size(), (System.nanoTime() - start) / 1e9));
      return List.of(sums).iterator();
    }
  }
}
