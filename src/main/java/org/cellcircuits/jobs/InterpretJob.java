package org.cellcircuits.jobs;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.BufferedReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import org.cellcircuits.evaluate.EvaluateJob;
import org.cellcircuits.harvest.ActivationSchema;
import org.cellcircuits.harvest.ActivationStore;
import org.cellcircuits.harvest.LayerManifest;
import org.cellcircuits.harvest.VectorFormat;
import org.cellcircuits.interpret.Enrichment;
import org.cellcircuits.interpret.FeatureSummary;
import org.cellcircuits.interpret.GeneSet;
import org.cellcircuits.interpret.GeneSetEnrichment;
import org.cellcircuits.interpret.GeneSets;
import org.cellcircuits.interpret.GmtReader;
import org.cellcircuits.interpret.HarvestedToken;
import org.cellcircuits.interpret.InterpretParams;
import org.cellcircuits.interpret.InterpretSettings;
import org.cellcircuits.interpret.InterpretabilityTable;
import org.cellcircuits.interpret.LayerAccumulator;
import org.cellcircuits.interpret.MarkerCoverage;
import org.cellcircuits.interpret.MarkerTableReader;
import org.cellcircuits.interpret.TopExample;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.runtime.ExecutorTranscoders;
import org.cellcircuits.runtime.TaskDevice;
import org.cellcircuits.sentences.SentencesJob;
import org.cellcircuits.transcoder.TrainJob;
import org.cellcircuits.transcoder.Transcoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.collection.JavaConverters;

/**
 * The interpret stage's feature table as a Spark job. For each layer (and each feature shard of it), one pass over the
 * committed harvest's {@code activations/layer=L} files (those of its manifest): tasks decode {@code mlp_in}, encode batches of tokens with the
 * committed transcoder ({@link Transcoder#encode}, so every activation function is honoured) and add each token's
 * feature activations to a {@link LayerAccumulator}; the accumulators of all tasks are merged with
 * {@code treeReduce}. The driver then turns each feature's totals into a {@link FeatureSummary}, tests its top genes
 * for enrichment in the configured gene sets ({@link GeneSetEnrichment}, Benjamini-Hochberg over all (feature, set)
 * tests of the layer) and appends the layer's rows to {@code features/}. All maths is in {@code interpret}.
 *
 * <p>Cell types: harvest rows carry no cell type, so the driver collects {@code cell_id -> cell_type} from the
 * sentences table and broadcasts it (about 100 bytes a cell: 100 MB for a million cells). Cells without an annotated
 * type count as {@value #UNANNOTATED}.
 *
 * <p>Memory: a task's accumulator holds, for each feature of its shard that fired in the task, the activation mass per
 * gene, per token position and per cell type (hash maps of ~80 bytes an entry) and its top-k examples. With d_sae
 * features per shard, G distinct genes and P positions a feature fires on, that is about
 * {@code d_sae / shards x (G + P + types + k) x 80 bytes}: on the demo (1,024 features, a few hundred genes) a few
 * tens of MB; at Pythia-410m scale (32,768 features, thousands of genes each) several GB, so raise
 * {@code interpret.feature-shards} there (each shard re-reads and re-encodes the layer). The driver merges and holds
 * one shard at a time, and keeps only the small summaries of one layer.
 */
public final class InterpretJob {
  private static final Logger LOG = LoggerFactory.getLogger(InterpretJob.class);

  /** The feature table under the attempt folder. */
  public static final String FEATURES_TABLE = "features";
  /** The printed tables (per-layer figures and the interpretability table), read back when the stage is skipped. */
  public static final String TABLE_FILE = "interpretability.txt";
  /** The cell type of cells the sentences table leaves unannotated. */
  public static final String UNANNOTATED = "unannotated";
  /** q-value up to which a feature's top enrichment counts as significant in the printed figures. */
  public static final double SIGNIFICANT_Q = 0.05;

  /** One of a feature's strongest tokens. */
  public static final StructType EXAMPLE_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("cell_id", DataTypes.StringType, false),
      DataTypes.createStructField("cell_type", DataTypes.StringType, false),
      DataTypes.createStructField("pos", DataTypes.IntegerType, false),
      DataTypes.createStructField("gene", DataTypes.StringType, true),
      DataTypes.createStructField("gene_rank", DataTypes.IntegerType, true),
      DataTypes.createStructField("activation", DataTypes.FloatType, false)});

  /** One row per (layer, feature). */
  public static final StructType FEATURES_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("layer", DataTypes.IntegerType, false),
      DataTypes.createStructField("feature", DataTypes.IntegerType, false),
      DataTypes.createStructField("kind", DataTypes.StringType, false),
      DataTypes.createStructField("firing_count", DataTypes.LongType, false),
      DataTypes.createStructField("firing_frequency", DataTypes.DoubleType, false),
      DataTypes.createStructField("top_gene", DataTypes.StringType, true),
      DataTypes.createStructField("top_gene_share", DataTypes.DoubleType, false),
      DataTypes.createStructField("top3_genes", DataTypes.createArrayType(DataTypes.StringType, false), false),
      DataTypes.createStructField("top3_share", DataTypes.DoubleType, false),
      DataTypes.createStructField("top_cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("cell_type_tau", DataTypes.DoubleType, false),
      DataTypes.createStructField("mean_by_cell_type",
          DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), false),
      DataTypes.createStructField("template_share", DataTypes.DoubleType, false),
      DataTypes.createStructField("top_position_share", DataTypes.DoubleType, false),
      DataTypes.createStructField("label", DataTypes.StringType, false),
      DataTypes.createStructField("label_kind", DataTypes.StringType, false),
      DataTypes.createStructField("top_genes", DataTypes.createArrayType(DataTypes.StringType, false), false),
      DataTypes.createStructField("top_examples", DataTypes.createArrayType(EXAMPLE_SCHEMA, false), false),
      DataTypes.createStructField("enriched_set", DataTypes.StringType, true),
      DataTypes.createStructField("enriched_genes", DataTypes.createArrayType(DataTypes.StringType, false), true),
      DataTypes.createStructField("enrichment_p", DataTypes.DoubleType, true),
      DataTypes.createStructField("enrichment_q", DataTypes.DoubleType, true)});

  private InterpretJob() {}

  /**
   * One layer to interpret.
   *
   * @param layer block index
   * @param files the committed Parquet files of {@code activations/layer=L} (from its manifest: never a file of a
   *     failed harvest task)
   * @param dModel vector width
   * @param format how the vectors are stored
   * @param tokens harvested tokens of the layer
   * @param dictionary its committed transcoder or SAE
   */
  public record LayerInput(int layer, List<String> files, int dModel, VectorFormat format, long tokens,
      EvaluateJob.Dictionary dictionary) {
    public LayerInput {
      files = List.copyOf(files);
    }
  }

  /**
   * What the stage will read, settled on the driver before any task starts.
   *
   * @param sentencesPath the committed sentences table (for cell types)
   * @param layers the layers, in order
   * @param geneSets the sets enrichment tests against, or null when none is configured
   * @param markers the marker table's sets alone (one per cell type), or null: which types have a gene-level feature
   *     for one of their markers ({@link MarkerCoverage})
   */
  public record Plan(String sentencesPath, List<LayerInput> layers, GeneSets geneSets, GeneSets markers) {
    public Plan {
      layers = List.copyOf(layers);
    }

    /** Tokens all passes read: each layer's tokens once per feature shard. */
    public long tokenPasses(int shards) {
      return layers.stream().mapToLong(LayerInput::tokens).sum() * shards;
    }
  }

  /**
   * What the job did.
   *
   * @param features rows written to {@code features/}
   * @param stats the marker's figures
   * @param table the printed tables
   */
  public record Outcome(long features, Map<String, Double> stats, String table) {}

  /**
   * Checks the inputs: the harvest and train stages' layers, each dictionary against its activations, the gene-set
   * files.
   *
   * @throws org.cellcircuits.io.StageNotCommittedException when sentences, harvest or train has not committed
   * @throws BadConfigException when interpret.layers names a layer without activations or transcoder, or a gene-set
   *     file cannot be read
   */
  public static Plan plan(SparkSession spark, RunRoot root, InterpretSettings settings) throws IOException {
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    String sentencesPath = root.committedPath("sentences", "sentences").toString();
    SentencesJob.checkSchema(spark.read().parquet(sentencesPath).schema(), sentencesPath);

    StageMarker harvest = root.requireCommitted("harvest");
    TreeSet<Integer> harvested = new TreeSet<>();
    for (String table : harvest.rowCounts().keySet()) {
      Integer layer = ActivationSchema.layerOfTable(table);
      if (layer != null) {
        harvested.add(layer);
      }
    }
    Map<Integer, EvaluateJob.Dictionary> dictionaries = new TreeMap<>();
    for (EvaluateJob.Dictionary d : EvaluateJob.committedDictionaries(root)) {
      dictionaries.put(d.layer(), d);
    }
    List<Integer> layers;
    if (settings.layers().isEmpty()) {
      layers = harvested.stream().filter(dictionaries::containsKey).toList();
      if (layers.isEmpty()) {
        throw new IllegalArgumentException(String.format(
            "no layer to interpret under %s: the harvest stored layers %s, the train stage made transcoders for "
                + "layers %s, and none is in both", root.uri(), harvested, dictionaries.keySet()));
      }
    } else {
      layers = settings.layers().stream().sorted().toList();
      for (int layer : layers) {
        if (!harvested.contains(layer) || !dictionaries.containsKey(layer)) {
          throw new BadConfigException(String.format(
              "%s.layers lists layer %d, which has %s; the harvest stored layers %s and the train stage made "
                  + "transcoders for layers %s", InterpretParams.SECTION, layer,
              harvested.contains(layer) ? "no transcoder" : "no harvested activations", harvested,
              dictionaries.keySet()));
        }
      }
    }
    List<LayerInput> inputs = new ArrayList<>();
    for (int layer : layers) {
      ActivationStore store = ActivationStore.open(root, layer);
      EvaluateJob.Dictionary d = dictionaries.get(layer);
      if (d.config().dIn() != store.dModel()) {
        throw new IllegalArgumentException(String.format(
            "the transcoder of layer %d (%s) reads vectors of width %d; the harvest stored width %d (d_model)",
            layer, d.folder(), d.config().dIn(), store.dModel()));
      }
      if (store.rows() == 0) {
        throw new IllegalArgumentException(String.format(
            "the harvest stored no tokens of layer %d (%s); nothing to interpret", layer, store.layerDir()));
      }
      List<String> files = new ArrayList<>();
      for (LayerManifest.FileEntry f : store.files()) {
        files.add(new Path(new Path(store.layerDir()), f.name()).toString());
      }
      inputs.add(new LayerInput(layer, files, store.dModel(), store.format(), store.rows(), d));
    }
    GeneSets markers = settings.markersPath() == null ? null
        : readSets(settings.markersPath(), "markers-path", hadoop, true);
    GeneSets gmt = settings.geneSetsPath() == null ? null
        : readSets(settings.geneSetsPath(), "gene-sets-path", hadoop, false);
    return new Plan(sentencesPath, inputs, combined(markers, gmt), markers);
  }

  /** The marker table's sets and the GMT file's, as one family of sets; null when neither is set. */
  static GeneSets combined(GeneSets markers, GeneSets gmt) {
    List<GeneSet> sets = new ArrayList<>();
    List<String> sources = new ArrayList<>();
    for (GeneSets g : new GeneSets[] {markers, gmt}) {
      if (g != null) {
        sets.addAll(g.sets());
        sources.add(g.source());
      }
    }
    return sets.isEmpty() ? null : new GeneSets(String.join(" + ", sources), sets);
  }

  private static GeneSets readSets(String file, String key, Configuration hadoop, boolean markerTable)
      throws IOException {
    Path p = new Path(file);
    try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getFileSystem(hadoop).open(p),
        StandardCharsets.UTF_8))) {
      return markerTable ? MarkerTableReader.read(in, file) : GmtReader.read(in, file);
    } catch (FileNotFoundException e) {
      throw new BadConfigException(String.format("%s.%s is %s, which does not exist", InterpretParams.SECTION, key,
          file), e);
    } catch (IllegalArgumentException e) {
      throw new BadConfigException(String.format("%s.%s: %s", InterpretParams.SECTION, key, e.getMessage()), e);
    }
  }

  /**
   * Runs the plan and writes {@code features/} and {@value #TABLE_FILE} under {@code attemptDir}.
   *
   * @param progress reports tokens encoded; its counter is added to by the tasks
   */
  public static Outcome run(SparkSession spark, Plan plan, InterpretSettings settings, String attemptDir,
      Progress progress) throws IOException {
    long start = System.nanoTime();
    InterpretParams params = settings.params();
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
    Broadcast<HashMap<String, String>> types = jsc.broadcast(cellTypes(spark, plan.sentencesPath()));
    LongAccumulator tokensDone = progress == null ? null : progress.counter();

    Map<String, Double> stats = new TreeMap<>();
    StringBuilder table = new StringBuilder();
    // the all-layer figures as counts, so the driver keeps no layer's summaries after writing them
    long[] liveByThreshold = new long[InterpretabilityTable.DEFAULT_THRESHOLDS.length];
    long[] geneLevelByThreshold = new long[InterpretabilityTable.DEFAULT_THRESHOLDS.length];
    long features = 0;
    long live = 0;
    long geneLevel = 0;
    long rows = 0;
    long significant = 0;
    MarkerCoverage coverage = plan.markers() == null ? null
        : new MarkerCoverage(plan.markers(), params.geneLevelThreshold());
    try {
      for (LayerInput layer : plan.layers()) {
        int dSae = layer.dictionary().config().dSae();
        List<FeatureSummary> summaries = new ArrayList<>(dSae);
        Set<String> universe = null;  // genes seen: the same in every shard's pass
        int tasks = 0;
        for (int shard = 0; shard < settings.featureShards(); shard++) {
          int[] range = InterpretSettings.featureRange(dSae, settings.featureShards(), shard);
          if (range[1] == range[0]) {
            continue;
          }
          // only the files the harvest committed (its manifest), never a failed task's; Spark splits them by row group
          JavaRDD<Row> input = spark.read().parquet(layer.files().toArray(new String[0]))
              .select(ActivationSchema.CELL_ID, ActivationSchema.POS, ActivationSchema.GENE_SYMBOL,
                  ActivationSchema.GENE_RANK, ActivationSchema.MLP_IN)
              .javaRDD();
          tasks += input.getNumPartitions();
          spark.sparkContext().setJobDescription(String.format(Locale.ROOT,
              "interpret layer %d: features %d-%d of %d (shard %d of %d), %,d tokens in %d tasks", layer.layer(),
              range[0], range[1] - 1, dSae, shard + 1, settings.featureShards(), layer.tokens(),
              input.getNumPartitions()));
          LayerAccumulator acc = input
              .mapPartitions(new EncodeTask(layer.layer(), layer.dictionary().folder(), layer.dModel(),
                  layer.format(), dSae, range[0], range[1], params.topExamples(), settings.batchSize(),
                  settings.device(), types, conf, tokensDone))
              .treeReduce(LayerAccumulator::merge);
          if (acc.tokensSeen() != layer.tokens()) {
            throw new IllegalStateException(String.format(
                "interpret layer %d: the tasks counted %d tokens; the harvest committed %d", layer.layer(),
                acc.tokensSeen(), layer.tokens()));
          }
          for (int f = 0; f < acc.featureCount(); f++) {
            summaries.add(FeatureSummary.of(f, acc, params).withFeature(range[0] + f));
          }
          if (universe == null) {
            universe = new HashSet<>(acc.genesSeen());
          }
          if (progress != null) {
            progress.report();
          }
        }
        // Enrichment: every feature of the layer against every set, one Benjamini-Hochberg family per layer.
        Map<Integer, Enrichment> best = Map.of();
        if (plan.geneSets() != null) {
          Map<Integer, List<String>> topGenes = new LinkedHashMap<>();
          for (FeatureSummary s : summaries) {
            if (!s.topGenes().isEmpty()) {
              topGenes.put(s.feature(), s.topGenes());
            }
          }
          best = GeneSetEnrichment.strongestByFeature(
              GeneSetEnrichment.test(topGenes, plan.geneSets(), universe));
        }
        List<Row> out = new ArrayList<>(summaries.size());
        for (FeatureSummary s : summaries) {
          Enrichment e = best.get(s.feature());
          if (e != null && e.qValue() <= SIGNIFICANT_Q) {
            significant++;
          }
          out.add(row(layer, s, e));
        }
        spark.sparkContext().setJobDescription(String.format(Locale.ROOT, "interpret layer %d: write %,d features",
            layer.layer(), out.size()));
        appendFeatures(jsc, spark, out, attemptDir + "/" + FEATURES_TABLE);
        rows += out.size();
        layerFigures(layer, summaries, params, tasks, best, stats, table);
        if (coverage != null) {
          coverage.add(layer.layer(), summaries);
        }
        InterpretabilityTable layerTable = InterpretabilityTable.of(summaries);
        for (int t = 0; t < liveByThreshold.length; t++) {
          liveByThreshold[t] += layerTable.rows().get(t).liveFeatures();
          geneLevelByThreshold[t] += layerTable.rows().get(t).geneLevelFeatures();
        }
        features += summaries.size();
        InterpretabilityTable.Row atParam = InterpretabilityTable.of(summaries,
            new double[] {params.geneLevelThreshold()}).rows().get(0);
        live += atParam.liveFeatures();
        geneLevel += atParam.geneLevelFeatures();
      }
    } finally {
      types.destroy();
    }
    List<InterpretabilityTable.Row> overallRows = new ArrayList<>();
    for (int t = 0; t < liveByThreshold.length; t++) {
      overallRows.add(new InterpretabilityTable.Row(InterpretabilityTable.DEFAULT_THRESHOLDS[t],
          Math.toIntExact(liveByThreshold[t]), Math.toIntExact(geneLevelByThreshold[t])));
    }
    InterpretabilityTable overall = new InterpretabilityTable(overallRows);
    stats.put("features", (double) features);
    stats.put("live_features", (double) live);
    stats.put("dead_share", features == 0 ? 0 : 1 - (double) live / features);
    stats.put("gene_level_share", live == 0 ? 0 : (double) geneLevel / live);
    stats.put("enriched_features", (double) significant);
    stats.put("tokens", (double) plan.layers().stream().mapToLong(LayerInput::tokens).sum());
    double seconds = (System.nanoTime() - start) / 1e9;
    stats.put("seconds", seconds);
    table.append(String.format(Locale.ROOT, "%nall layers: %,d features, %,d live; share of live features whose top "
        + "gene holds at least the threshold of their activation mass (the paper's hand count: 7 of 20, 35%%):%n",
        features, live));
    table.append(overall.format());
    if (plan.geneSets() != null) {
      table.append(String.format(Locale.ROOT, "features whose top genes are enriched in a set of %s at q <= %.2f: "
          + "%,d%n", plan.geneSets().source(), SIGNIFICANT_Q, significant));
    }
    if (coverage != null) {
      stats.put("marker_types", (double) coverage.types());
      stats.put("marker_types_with_gene_level_feature", (double) coverage.coveredTypes());
      table.append(coverage.format());
    }
    Path tableFile = new Path(attemptDir, TABLE_FILE);
    FileSystem fs = tableFile.getFileSystem(hadoop);
    try (OutputStream o = fs.create(tableFile, false)) {
      o.write(table.toString().getBytes(StandardCharsets.UTF_8));
    }
    LOG.info(String.format(Locale.ROOT, "interpret: %,d features of %d layers in %.1f s; the table follows the stage",
        rows, plan.layers().size(), seconds));
    return new Outcome(rows, stats, table.toString());
  }

  /**
   * Appends one layer's rows to the table as one Parquet file, written by one task. The rows reach that task as a
   * broadcast: a DataFrame of the driver's list would carry them inside the task itself (1.4 MB on the demo, tens of MB
   * at 32,768 features a layer), which Spark warns of as a task of very large size.
   */
  private static void appendFeatures(JavaSparkContext jsc, SparkSession spark, List<Row> rows, String dir) {
    Broadcast<List<Row>> shipped = jsc.broadcast(rows);
    try {
      JavaRDD<Row> one = jsc.parallelize(List.of(0), 1).flatMap(i -> shipped.value().iterator());
      spark.createDataFrame(one, FEATURES_SCHEMA).write().mode(SaveMode.Append).parquet(dir);
    } finally {
      shipped.destroy();
    }
  }

  /** The per-layer marker figures and printed lines. */
  private static void layerFigures(LayerInput layer, List<FeatureSummary> summaries, InterpretParams params,
      int tasks, Map<Integer, Enrichment> best, Map<String, Double> stats, StringBuilder table) {
    int n = summaries.size();
    long live = summaries.stream().filter(FeatureSummary::isLive).count();
    double geneLevel = InterpretabilityTable.of(summaries, new double[] {params.geneLevelThreshold()}).rows().get(0)
        .share();
    String p = "layer_" + layer.layer() + "_";
    stats.put(p + "features", (double) n);
    stats.put(p + "live_features", (double) live);
    stats.put(p + "dead_share", n == 0 ? 0 : 1 - (double) live / n);
    stats.put(p + "gene_level_share", geneLevel);
    stats.put(p + "tokens", (double) layer.tokens());
    stats.put(p + "tasks", (double) tasks);
    Map<String, Integer> labels = new TreeMap<>();
    for (FeatureSummary s : summaries) {
      labels.merge(s.label().kind().text(), 1, Integer::sum);
    }
    long enriched = best.values().stream().filter(e -> e.qValue() <= SIGNIFICANT_Q).count();
    table.append(String.format(Locale.ROOT, "layer %d (%s, %,d features, %,d tokens): live %,d, dead %.1f%%, "
        + "gene-level at %.2f: %.1f%% of live; labels %s%s%n", layer.layer(),
        layer.dictionary().config().kind().configName(), n, layer.tokens(), live, 100.0 * (n - live) / Math.max(1, n),
        params.geneLevelThreshold(), 100 * geneLevel, labels,
        best.isEmpty() ? "" : String.format(Locale.ROOT, "; enriched at q <= %.2f: %,d", SIGNIFICANT_Q, enriched)));
  }

  private static Row row(LayerInput layer, FeatureSummary s, Enrichment e) {
    List<Row> examples = new ArrayList<>(s.examples().size());
    for (TopExample x : s.examples()) {
      examples.add(RowFactory.create(x.cellId(), x.cellType(), x.position(), x.gene(),
          x.gene() == null ? null : x.geneRank(), x.activation()));
    }
    return RowFactory.create(layer.layer(), s.feature(), layer.dictionary().config().kind().configName(),
        s.firingCount(), s.firingFrequency(), s.geneScore().topGene(), s.geneScore().topGeneShare(),
        s.geneScore().topGenes().toArray(new String[0]), s.geneScore().topGenesShare(), s.cellTypes().topType(),
        // a Scala map over a sorted one: the Row encoder of a DataFrame made from an RDD takes no java.util.Map
        s.cellTypes().specificity(), JavaConverters.mapAsScalaMap(new TreeMap<>(s.cellTypes().meanByType())),
        s.templateShare(), s.topPositionShare(), s.label().text(), s.label().kind().text(),
        s.topGenes().toArray(new String[0]), examples.toArray(new Row[0]),
        e == null ? null : e.geneSet(), e == null ? null : e.overlapGenes().toArray(new String[0]),
        e == null ? null : e.pValue(), e == null ? null : e.qValue());
  }

  /** cell_id -> annotated type ({@value #UNANNOTATED} when null or empty) of every cell of the sentences table. */
  static HashMap<String, String> cellTypes(SparkSession spark, String sentencesPath) {
    HashMap<String, String> out = new HashMap<>();
    for (Row r : spark.read().parquet(sentencesPath).select("cell_id", "cell_type").collectAsList()) {
      if (r.isNullAt(0)) {
        continue;
      }
      String type = r.isNullAt(1) || r.getString(1).isEmpty() ? UNANNOTATED : r.getString(1);
      if (out.put(r.getString(0), type) != null) {
        throw new IllegalArgumentException(String.format(
            "cell %s appears twice in the sentences table %s", r.getString(0), sentencesPath));
      }
    }
    return out;
  }

  /** The work of one task: its stored tokens of one layer, encoded in batches and added to one accumulator. */
  static final class EncodeTask implements FlatMapFunction<Iterator<Row>, LayerAccumulator> {
    private static final long serialVersionUID = 1L;
    private final int layer;
    private final String folder;
    private final int dModel;
    private final VectorFormat format;
    private final int dSae;
    private final int start;
    private final int end;
    private final int topExamples;
    private final int batchSize;
    private final String device;
    private final Broadcast<HashMap<String, String>> types;
    private final Broadcast<SerializableConfiguration> conf;
    private final LongAccumulator tokensDone;

    EncodeTask(int layer, String folder, int dModel, VectorFormat format, int dSae, int start, int end,
        int topExamples, int batchSize, String device, Broadcast<HashMap<String, String>> types,
        Broadcast<SerializableConfiguration> conf, LongAccumulator tokensDone) {
      this.layer = layer;
      this.folder = folder;
      this.dModel = dModel;
      this.format = format;
      this.dSae = dSae;
      this.start = start;
      this.end = end;
      this.topExamples = topExamples;
      this.batchSize = batchSize;
      this.device = device;
      this.types = types;
      this.conf = conf;
      this.tokensDone = tokensDone;
    }

    @Override
    public Iterator<LayerAccumulator> call(Iterator<Row> rows) {
      long t0 = System.nanoTime();
      LayerAccumulator acc = new LayerAccumulator(end - start, topExamples);
      if (!rows.hasNext()) {
        return List.of(acc).iterator();
      }
      Configuration hadoop = conf.value().value();
      Device dev = TaskDevice.resolve(device);
      TrainJob.useTaskCores(dev);
      Transcoder transcoder = ExecutorTranscoders.get(folder, dev, hadoop);
      if (transcoder.config().dSae() != dSae || transcoder.config().dIn() != dModel) {
        throw new IllegalStateException(String.format("transcoder %s has d_in %d, d_sae %d; the plan said %d, %d",
            folder, transcoder.config().dIn(), transcoder.config().dSae(), dModel, dSae));
      }
      int width = VectorFormat.BYTES_PER_VALUE * dModel;
      long count = 0;
      try (NDManager manager = NDManager.newBaseManager(dev)) {
        Batches batches = new Batches(manager, transcoder, acc, types.value());
        while (rows.hasNext()) {
          Row r = rows.next();
          String cellId = r.getString(0);
          int pos = r.getInt(1);
          byte[] vector = (byte[]) r.get(4);
          if (vector.length != width) {
            throw new IllegalArgumentException(String.format(
                "layer %d: cell %s token %d has an mlp_in of %d bytes; d_model %d needs %d", layer, cellId, pos,
                vector.length, dModel, width));
          }
          batches.add(cellId, pos, r.isNullAt(2) ? null : r.getString(2), r.isNullAt(3) ? -1 : r.getInt(3), vector);
          count++;
        }
        batches.flush();
      }
      if (tokensDone != null) {
        tokensDone.add(count);
      }
      TaskContext tc = TaskContext.get();
      LOG.info(String.format(Locale.ROOT, "interpret layer %d task %d: %,d tokens, features %d-%d, in %.1f s", layer,
          tc == null ? -1 : tc.partitionId(), count, start, end - 1, (System.nanoTime() - t0) / 1e9));
      return List.of(acc).iterator();
    }

    /** Collects tokens into batches and encodes each full batch. */
    private final class Batches {
      private final NDManager manager;
      private final Transcoder transcoder;
      private final LayerAccumulator acc;
      private final Map<String, String> cellTypes;
      private final List<HarvestedToken> tokens = new ArrayList<>();
      private final float[] in;
      private final float[] z;

      Batches(NDManager manager, Transcoder transcoder, LayerAccumulator acc, Map<String, String> cellTypes) {
        this.manager = manager;
        this.transcoder = transcoder;
        this.acc = acc;
        this.cellTypes = cellTypes;
        this.in = new float[Math.multiplyExact(batchSize, dModel)];
        this.z = new float[end - start];
      }

      void add(String cellId, int pos, String gene, int geneRank, byte[] mlpIn) {
        String type = cellTypes.get(cellId);
        if (type == null) {
          throw new IllegalArgumentException(String.format(
              "layer %d: harvested cell %s is not in the committed sentences table; rerun the harvest on these "
                  + "sentences", layer, cellId));
        }
        HarvestedToken token = gene == null ? HarvestedToken.nonGene(cellId, type, pos)
            : HarvestedToken.gene(cellId, type, pos, gene, geneRank);
        format.decode(mlpIn, 0, dModel, in, tokens.size() * dModel);
        tokens.add(token);
        if (tokens.size() == batchSize) {
          flush();
        }
      }

      /** Encodes the tokens collected and adds each one's activations of features [start, end) to the totals. */
      void flush() {
        int n = tokens.size();
        if (n == 0) {
          return;
        }
        float[] zs;
        try (NDManager batch = manager.newSubManager()) {
          NDArray x = batch.create(n * dModel == in.length ? in : Arrays.copyOf(in, n * dModel), new Shape(n, dModel));
          zs = transcoder.encode(x).toType(DataType.FLOAT32, false).toFloatArray();  // (n, d_sae)
        }
        for (int i = 0; i < n; i++) {
          System.arraycopy(zs, i * dSae + start, z, 0, end - start);
          acc.add(tokens.get(i), z);
        }
        tokens.clear();
      }
    }
  }

  /** One of the stage's printed tables, kept in the committed attempt; a placeholder line when the file is gone. */
  static String readTable(RunRoot root, StageMarker marker, String name) throws IOException {
    Path file = new Path(root.attemptPath("interpret", marker.attemptId()), name);
    try (var in = file.getFileSystem(root.hadoop()).open(file)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (FileNotFoundException e) {
      return "(the interpret table " + file + " is missing)";
    }
  }
}
