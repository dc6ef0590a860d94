package org.cellcircuits.harvest;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.runtime.ModelFolder;
import org.cellcircuits.sentences.SentencesJob;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The harvest as a Spark job: cells are spread over tasks, each task harvests its cells with the model its executor
 * JVM holds ({@link ExecutorModels}), writes its activation files itself (one per layer) and returns its cells'
 * predictions, which Spark writes as the {@code predictions} table.
 *
 * <p>Exactly-once output: every task attempt writes files named after itself and reports them in an accumulator.
 * Spark merges the accumulator updates of the one attempt per partition whose result it keeps, so after the job the
 * driver knows the accepted files, deletes every other file under {@code activations/} (left by failed or duplicate
 * attempts) and writes each layer's {@link LayerManifest}. All of it happens inside the stage's attempt folder before
 * the stage commits, so readers never see a partial state; a crashed driver leaves an uncommitted attempt that the
 * next run deletes.
 */
public final class HarvestJob {
  private static final Logger LOG = LoggerFactory.getLogger(HarvestJob.class);

  /** The predictions table. */
  public static final StructType PREDICTIONS_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("cell_id", DataTypes.StringType, false),
      DataTypes.createStructField("cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("predicted_cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("predicted_log_prob", DataTypes.DoubleType, false),
      DataTypes.createStructField("annotated_log_prob", DataTypes.DoubleType, true),
      DataTypes.createStructField("correct", DataTypes.BooleanType, true),
      DataTypes.createStructField("answer_complete", DataTypes.BooleanType, false),
      DataTypes.createStructField("prompt_tokens", DataTypes.IntegerType, false),
      DataTypes.createStructField("held_out", DataTypes.BooleanType, false)});

  /** Tests: runs in each task after its files are written and before it returns (throw to simulate a crash). */
  static volatile Consumer<TaskContext> afterPartitionForTests = tc -> {};

  private HarvestJob() {}

  /**
   * What the whole job did.
   *
   * @param cells cells harvested
   * @param dModel vector width
   * @param layers the layers stored
   * @param manifests per layer, its files and rows
   * @param promptTokens tokens over all prompts
   * @param storedTokensPerLayer tokens stored in each layer
   * @param paddingWaste share of computed positions that were padding
   * @param decodedCells cells whose answer needed greedy decoding
   * @param annotatedCells cells with an annotated type
   * @param correctCells annotated cells whose greedy answer equals the annotation
   * @param seconds wall time of the job
   */
  public record Outcome(long cells, int dModel, List<Integer> layers, Map<Integer, LayerManifest> manifests,
      long promptTokens, long storedTokensPerLayer, double paddingWaste, long decodedCells, long annotatedCells,
      long correctCells, double seconds) {

    /** Stored bytes per stored token, over all layers (file overhead included). */
    public double bytesPerStoredToken() {
      long rows = manifests.values().stream().mapToLong(LayerManifest::rows).sum();
      long bytes = manifests.values().stream().mapToLong(LayerManifest::bytes).sum();
      return rows == 0 ? 0 : (double) bytes / rows;
    }

    /** Accuracy over annotated cells (NaN without any). */
    public double accuracy() {
      return annotatedCells == 0 ? Double.NaN : (double) correctCells / annotatedCells;
    }
  }

  /** One task attempt's report. */
  record TaskReport(int partition, long cells, long promptTokens, long storedTokens, long forwardTokens,
      long paddedTokens, long decodedCells, List<LayerFiles.Written> files, long taskNanos, long tokenizeNanos,
      long forwardNanos, long extractNanos, long writeNanos, long decodeNanos, Map<String, long[]> perType)
      implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * The model's shape as the driver sees it, with the harvest's settings checked against it (layers in range,
   * vocabulary covering the tokenizer), before any task starts.
   */
  public static NeoXConfig checkModel(HarvestParams params, Configuration conf) throws IOException {
    Path folder = ModelFolder.local(params.model().path(), conf);
    NeoXConfig config = ModelFolder.checkedConfig(folder);
    params.layersFor(config.numLayers(), params.model().path());
    return config;
  }

  /**
   * Runs the harvest.
   *
   * @param sentencesPath the committed sentences table
   * @param cells its row count (from its stage marker; checked against what the tasks saw)
   * @param attemptDir the stage attempt folder; {@code activations/} and {@code predictions/} are written below it
   * @param cellsDone executors add finished cells (may be null)
   * @param tokensDone executors add finished prompt tokens (may be null)
   */
  public static Outcome run(SparkSession spark, String sentencesPath, long cells, HarvestParams params,
      String attemptDir, LongAccumulator cellsDone, LongAccumulator tokensDone) throws IOException {
    long start = System.nanoTime();
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    Dataset<Row> sentences = spark.read().parquet(sentencesPath);
    SentencesJob.checkSchema(sentences.schema(), sentencesPath);
    NeoXConfig model = checkModel(params, hadoop);
    List<Integer> layers = params.layersFor(model.numLayers(), params.model().path());
    int dModel = model.hiddenSize();

    int partitions = (int) Math.max(1, Math.min(Integer.MAX_VALUE, (cells + params.cellsPerTask() - 1)
        / params.cellsPerTask()));
    LOG.info("harvest: {} cells in {} tasks; layers {} of {}; tokens: {}; vectors {} ({} bytes each), {} Parquet",
        cells, partitions, layers, model.numLayers(), params.tokens().describe(), params.vectorFormat().id(),
        VectorFormat.BYTES_PER_VALUE * dModel, params.compression().name().toLowerCase(Locale.ROOT));

    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
    CollectionAccumulator<TaskReport> reports = spark.sparkContext().collectionAccumulator("harvest task reports");
    String activationsDir = attemptDir + "/activations";
    JavaRDD<Row> input = sentences
        .select(functions.col("cell_id"), functions.col("cell_type"), functions.col("genes"), functions.col("prompt"))
        .repartition(partitions)
        .javaRDD();
    JavaRDD<Row> predictions = input.mapPartitions(
        new HarvestTask(params, layers, dModel, activationsDir, conf, reports, cellsDone, tokensDone));
    spark.createDataFrame(predictions, PREDICTIONS_SCHEMA).write().parquet(attemptDir + "/predictions");

    Map<Integer, TaskReport> accepted = new TreeMap<>();
    for (TaskReport r : reports.value()) {
      TaskReport previous = accepted.putIfAbsent(r.partition(), r);
      if (previous != null) {
        throw new IllegalStateException(String.format(
            "harvest: two accepted reports for partition %d; cannot tell which files to keep", r.partition()));
      }
    }
    if (accepted.size() != partitions) {
      throw new IllegalStateException(String.format(
          "harvest: %d of %d tasks reported; the job's accumulator lost reports", accepted.size(), partitions));
    }
    Map<Integer, LayerManifest> manifests = finishLayers(activationsDir, layers, dModel, params.vectorFormat(),
        accepted.values(), hadoop);

    long promptTokens = 0;
    long stored = 0;
    long forward = 0;
    long padded = 0;
    long decoded = 0;
    long harvested = 0;
    long[] nanos = new long[6];
    for (TaskReport r : accepted.values()) {
      harvested += r.cells();
      promptTokens += r.promptTokens();
      stored += r.storedTokens();
      forward += r.forwardTokens();
      padded += r.paddedTokens();
      decoded += r.decodedCells();
      nanos[0] += r.forwardNanos();
      nanos[1] += r.extractNanos();
      nanos[2] += r.writeNanos();
      nanos[3] += r.decodeNanos();
      nanos[4] += r.tokenizeNanos();
      nanos[5] += r.taskNanos();
    }
    if (harvested != cells) {
      throw new IllegalStateException(String.format(
          "harvest: tasks report %d cells, the sentences table has %d", harvested, cells));
    }
    for (LayerManifest m : manifests.values()) {
      if (m.rows() != stored) {
        throw new IllegalStateException(String.format(
            "harvest: layer %d holds %d tokens in its accepted files; the tasks stored %d", m.layer(), m.rows(), stored));
      }
    }

    // Accuracy per annotated cell type, from the tasks' counts (cells, correct).
    Map<String, long[]> perType = new TreeMap<>();
    for (TaskReport r : accepted.values()) {
      r.perType().forEach((type, n) -> {
        long[] sum = perType.computeIfAbsent(type, t -> new long[2]);
        sum[0] += n[0];
        sum[1] += n[1];
      });
    }
    long annotated = 0;
    long correct = 0;
    for (Map.Entry<String, long[]> e : perType.entrySet()) {
      long[] n = e.getValue();
      annotated += n[0];
      correct += n[1];
      LOG.info(String.format(Locale.ROOT, "harvest: accuracy %-30s %6.1f%% (%d / %d cells)", e.getKey(),
          100.0 * n[1] / n[0], n[1], n[0]));
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    Outcome outcome = new Outcome(cells, dModel, layers, manifests, promptTokens, stored,
        padded == 0 ? 0 : 1.0 - (double) forward / padded, decoded, annotated, correct, seconds);
    LOG.info(String.format(Locale.ROOT, "harvest: accuracy overall %.1f%% (%d / %d annotated cells); %d of %d cells "
            + "needed greedy decoding (the rest answered the annotation at every answer position)",
        100.0 * outcome.accuracy(), correct, annotated, decoded, cells));
    LOG.info(String.format(Locale.ROOT, "harvest: %,d prompt tokens, %,d stored per layer x %d layers; %.1f bytes per "
            + "stored token and layer (raw fp16 mlp_in + mlp_out: %d); padding waste %.1f%%", promptTokens, stored,
        layers.size(), outcome.bytesPerStoredToken(), 4 * dModel, 100 * outcome.paddingWaste()));
    LOG.info(String.format(Locale.ROOT, "harvest: %.1f s, %.0f cells/s, %.0f prompt tokens/s; time in tasks %.1f s: "
            + "tokenize %.1f s, forward %.1f s, copy+encode %.1f s, Parquet %.1f s, decoding %.1f s", seconds,
        cells / seconds, promptTokens / seconds, nanos[5] / 1e9, nanos[4] / 1e9, nanos[0] / 1e9, nanos[1] / 1e9,
        nanos[2] / 1e9, nanos[3] / 1e9));
    return outcome;
  }

  /**
   * Keeps the accepted attempts' files of each layer, deletes the rest, writes the manifests. Every layer gets a
   * folder, even without rows, so the stage can list it as a table.
   */
  static Map<Integer, LayerManifest> finishLayers(String activationsDir, List<Integer> layers, int dModel,
      VectorFormat format, Iterable<TaskReport> accepted, Configuration conf) throws IOException {
    org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(activationsDir);
    FileSystem fs = root.getFileSystem(conf);
    Map<Integer, List<LayerManifest.FileEntry>> files = new TreeMap<>();
    for (int layer : layers) {
      files.put(layer, new ArrayList<>());
    }
    Map<Integer, Set<String>> keep = new HashMap<>();
    for (TaskReport r : accepted) {
      for (LayerFiles.Written w : r.files()) {
        files.get(w.layer()).add(new LayerManifest.FileEntry(w.name(), w.rows(), w.bytes()));
        keep.computeIfAbsent(w.layer(), l -> new HashSet<>()).add(w.name());
      }
    }
    Map<Integer, LayerManifest> manifests = new TreeMap<>();
    for (int layer : layers) {
      org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(root, ActivationSchema.layerFolder(layer));
      fs.mkdirs(dir);
      Set<String> kept = keep.getOrDefault(layer, Set.of());
      int removed = 0;
      for (FileStatus f : fs.listStatus(dir)) {
        String name = f.getPath().getName();
        if (!kept.contains(name) && !name.startsWith(".")) {
          fs.delete(f.getPath(), true);
          removed++;
        }
      }
      if (removed > 0) {
        LOG.info("harvest: layer {}: removed {} file(s) of failed or duplicate task attempts", layer, removed);
      }
      List<LayerManifest.FileEntry> list = files.get(layer);
      list.sort((a, b) -> a.name().compareTo(b.name()));
      LayerManifest manifest = new LayerManifest(layer, dModel, format, list);
      manifest.write(dir, conf);
      manifests.put(layer, manifest);
    }
    return manifests;
  }

  /** The work of one task. */
  private static final class HarvestTask implements FlatMapFunction<Iterator<Row>, Row> {
    private static final long serialVersionUID = 1L;
    private final HarvestParams params;
    private final List<Integer> layers;
    private final int dModel;
    private final String activationsDir;
    private final Broadcast<SerializableConfiguration> conf;
    private final CollectionAccumulator<TaskReport> reports;
    private final LongAccumulator cellsDone;
    private final LongAccumulator tokensDone;

    HarvestTask(HarvestParams params, List<Integer> layers, int dModel, String activationsDir,
        Broadcast<SerializableConfiguration> conf, CollectionAccumulator<TaskReport> reports,
        LongAccumulator cellsDone, LongAccumulator tokensDone) {
      this.params = params;
      this.layers = List.copyOf(layers);
      this.dModel = dModel;
      this.activationsDir = activationsDir;
      this.conf = conf;
      this.reports = reports;
      this.cellsDone = cellsDone;
      this.tokensDone = tokensDone;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) throws Exception {
      long start = System.nanoTime();
      TaskContext tc = TaskContext.get();
      List<CellPrompt> cells = new ArrayList<>();
      while (rows.hasNext()) {
        Row r = rows.next();
        String cellId = r.getString(0);
        if (cellId == null) {
          throw new IllegalArgumentException("sentences table has a row whose cell_id is null");
        }
        List<String> genes = r.isNullAt(2) ? List.of() : r.getList(2);
        if (r.isNullAt(3)) {
          throw new IllegalArgumentException(String.format("cell %s has no prompt (null)", cellId));
        }
        cells.add(new CellPrompt(cellId, r.isNullAt(1) ? null : r.getString(1), genes, r.getString(3)));
      }
      Configuration hadoop = conf.value().value();
      List<LayerFiles.Written> written = List.of();
      PartitionHarvester.Result result;
      long closeNanos = 0;
      if (cells.isEmpty()) {
        result = new PartitionHarvester.Result(List.of(), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
      } else {
        ExecutorModels.Loaded loaded = ExecutorModels.get(params.model(), tc.cpus(), hadoop);
        try (LayerFiles files = new LayerFiles(activationsDir, tc.partitionId(), tc.taskAttemptId(), hadoop, params,
            dModel)) {
          result = new PartitionHarvester(loaded, params, layers).run(cells, files);
          long c0 = System.nanoTime();
          written = files.finish(); // flushes the last row group of each layer: Parquet time too
          closeNanos = System.nanoTime() - c0;
        }
      }
      List<Row> out = new ArrayList<>(result.predictions().size());
      Map<String, long[]> perType = new HashMap<>();
      for (CellPrediction p : result.predictions()) {
        if (p.cellType() != null) {
          long[] n = perType.computeIfAbsent(p.cellType(), t -> new long[2]);
          n[0]++;
          n[1] += Boolean.TRUE.equals(p.correct()) ? 1 : 0;
        }
        out.add(RowFactory.create(p.cellId(), p.cellType(), p.predictedCellType(), p.predictedLogProb(),
            Double.isNaN(p.annotatedLogProb()) ? null : p.annotatedLogProb(), p.correct(), p.answerComplete(),
            p.promptTokens(), params.split().isHeldOut(p.cellId())));
      }
      afterPartitionForTests.accept(tc);
      reports.add(new TaskReport(tc.partitionId(), cells.size(), result.promptTokens(), result.storedTokens(),
          result.forwardTokens(), result.paddedTokens(), result.decodedCells(), written, System.nanoTime() - start,
          result.tokenizeNanos(), result.forwardNanos(), result.extractNanos(), result.writeNanos() + closeNanos,
          result.decodeNanos(), perType));
      if (cellsDone != null) {
        cellsDone.add(cells.size());
      }
      if (tokensDone != null) {
        tokensDone.add(result.promptTokens());
      }
      if (!cells.isEmpty()) {
        LOG.info(String.format(Locale.ROOT, "harvest task %d: %d cells, %d prompt tokens, %d stored per layer, "
                + "padding waste %.1f%%, %d decoded", tc.partitionId(), cells.size(), result.promptTokens(),
            result.storedTokens(), 100 * result.paddingWaste(), result.decodedCells()));
      }
      return out.iterator();
    }
  }
}
