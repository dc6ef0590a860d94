package org.cellcircuits.jobs;

import static org.apache.spark.sql.functions.abs;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_list;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.sort_array;
import static org.apache.spark.sql.functions.sum;

import java.io.IOException;
import java.io.OutputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import org.cellcircuits.circuits.NodeKind;
import org.cellcircuits.circuits.OutputTarget;
import org.cellcircuits.circuits.ReplacementWeights;
import org.cellcircuits.evaluate.EvaluateJob;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.interpret.AttributedUnit;
import org.cellcircuits.interpret.CircuitValidator;
import org.cellcircuits.interpret.KnockoutEffect;
import org.cellcircuits.interpret.ValidationSettings;
import org.cellcircuits.interpret.ValidationSummary;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.runtime.ModelFolder;
import org.cellcircuits.sentences.SentencesJob;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The interpret stage's knockout check of the committed circuits as a Spark job. The driver picks cells the circuits
 * stage traced (a few per cell type), reads each one's top input genes and features from {@code circuits/nodes} (a
 * gene's BPE pieces and a feature's positions summed, the largest by |attribution| kept, in Spark), and sends them
 * with the cell's sentence to tasks; each task reruns its cells with the knockouts ({@link CircuitValidator}) on the
 * model and transcoders its executor holds. The driver writes {@code validation/knockouts} (one row per removal),
 * {@code validation/summary} (one row per cell type and kind, {@link ValidationSummary}) and the printed table.
 */
public final class ValidationJob {
  private static final Logger LOG = LoggerFactory.getLogger(ValidationJob.class);

  public static final String KNOCKOUTS_TABLE = "validation/knockouts";
  public static final String SUMMARY_TABLE = "validation/summary";
  public static final String TABLE_FILE = "validation/summary.txt";

  /** One removal of one cell's gene or feature. */
  public static final StructType KNOCKOUTS_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("cell_id", DataTypes.StringType, false),
      DataTypes.createStructField("cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("kind", DataTypes.StringType, false),
      DataTypes.createStructField("gene", DataTypes.StringType, true),
      DataTypes.createStructField("layer", DataTypes.IntegerType, true),
      DataTypes.createStructField("feature", DataTypes.IntegerType, true),
      DataTypes.createStructField("attribution_rank", DataTypes.IntegerType, false),
      DataTypes.createStructField("attribution", DataTypes.DoubleType, false),
      DataTypes.createStructField("base_logprob", DataTypes.DoubleType, false),
      DataTypes.createStructField("logprob_drop", DataTypes.DoubleType, false),
      DataTypes.createStructField("value_drop", DataTypes.DoubleType, false),
      DataTypes.createStructField("prediction_changed", DataTypes.BooleanType, false)});

  /** One row per cell type and kind of removal. */
  public static final StructType SUMMARY_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("cell_type", DataTypes.StringType, true),
      DataTypes.createStructField("kind", DataTypes.StringType, false),
      DataTypes.createStructField("cells", DataTypes.LongType, false),
      DataTypes.createStructField("units", DataTypes.LongType, false),
      DataTypes.createStructField("spearman", DataTypes.DoubleType, true),
      DataTypes.createStructField("changed_share", DataTypes.DoubleType, false),
      DataTypes.createStructField("mean_logprob_drop", DataTypes.DoubleType, false)});

  private ValidationJob() {}

  /**
   * One cell to check: its circuit's target and its top units.
   *
   * @param targetMinus the subtracted token of a logit-difference target, or -1
   */
  public record Cell(String cellId, String cellType, long targetToken, long targetMinus, String targetLabel,
      List<AttributedUnit> genes, List<AttributedUnit> features) implements Serializable {
    public Cell {
      genes = List.copyOf(genes);
      features = List.copyOf(features);
    }

    OutputTarget target() {
      return targetMinus < 0 ? OutputTarget.logit(targetToken, targetLabel)
          : OutputTarget.difference(targetToken, targetMinus, targetLabel);
    }
  }

  /**
   * What the check will rerun, settled on the driver.
   *
   * @param sentencesPath the committed sentences table (the cells' genes and prompts)
   * @param folders the committed transcoders, layer to folder
   * @param cells the cells, by id
   * @param traced cells the circuits stage traced
   */
  public record Plan(String sentencesPath, Map<Integer, String> folders, List<Cell> cells, long traced) {}

  /** What the job did. */
  public record Outcome(long knockouts, long summaryRows, ValidationSummary summary, String table) {}

  /** Picks the cells and reads their units from the committed circuits. */
  public static Plan plan(SparkSession spark, RunRoot root, ValidationSettings settings) throws IOException {
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    String sentencesPath = root.committedPath("sentences", "sentences").toString();
    SentencesJob.checkSchema(spark.read().parquet(sentencesPath).schema(), sentencesPath);
    NeoXConfig model = ModelFolder.checkedConfig(ModelFolder.local(settings.model().path(), hadoop));
    Map<Integer, String> folders = new TreeMap<>();
    for (EvaluateJob.Dictionary d : EvaluateJob.committedDictionaries(root, model)) {
      folders.put(d.layer(), d.folder());
    }
    List<Row> graphs = spark.read().parquet(root.committedPath("circuits", CircuitsJob.GRAPHS_TABLE).toString())
        .select("cell_id", "cell_type", "target", "target_token", "target_minus_token").collectAsList();
    SortedMap<String, List<Row>> byType = new TreeMap<>();
    for (Row g : graphs) {
      byType.computeIfAbsent(g.isNullAt(1) ? "" : g.getString(1), k -> new ArrayList<>()).add(g);
    }
    Map<String, Row> chosen = new TreeMap<>();
    for (List<Row> rows : byType.values()) {
      rows.sort((a, b) -> a.getString(0).compareTo(b.getString(0)));
      for (Row r : rows.subList(0, Math.min(settings.cellsPerType(), rows.size()))) {
        chosen.put(r.getString(0), r);
      }
    }
    Dataset<Row> ids = spark.createDataFrame(chosen.keySet().stream().map(id -> RowFactory.create(id)).toList(),
        new StructType(new StructField[] {DataTypes.createStructField("v_cell_id", DataTypes.StringType, false)}));
    Dataset<Row> nodes = spark.read().parquet(root.committedPath("circuits", CircuitsJob.NODES_TABLE).toString());
    nodes = nodes.join(org.apache.spark.sql.functions.broadcast(ids), nodes.col("cell_id").equalTo(ids.col("v_cell_id")));
    String token = NodeKind.TOKEN.name().toLowerCase(Locale.ROOT);
    String feature = NodeKind.FEATURE.name().toLowerCase(Locale.ROOT);
    Dataset<Row> genes = top(nodes.filter(col("kind").equalTo(token).and(col("gene").isNotNull()))
        .groupBy("cell_id", "gene").agg(sum("attribution").as("a")), settings.topGenes(), col("gene"));
    Dataset<Row> features = top(nodes.filter(col("kind").equalTo(feature))
        .groupBy("cell_id", "layer", "feature")
        .agg(sum("attribution").as("a"), sort_array(collect_list("pos")).as("positions")), settings.topFeatures(),
        col("layer"), col("feature"));
    Map<String, List<AttributedUnit>> geneUnits = new HashMap<>();
    for (Row r : genes.select("cell_id", "gene", "a", "rank").orderBy("cell_id", "rank").collectAsList()) {
      geneUnits.computeIfAbsent(r.getString(0), k -> new ArrayList<>())
          .add(AttributedUnit.gene(r.getString(1), r.getDouble(2)));
    }
    Map<String, List<AttributedUnit>> featureUnits = new HashMap<>();
    if (settings.topFeatures() > 0) {
      for (Row r : features.select("cell_id", "layer", "feature", "a", "positions", "rank").orderBy("cell_id", "rank")
          .collectAsList()) {
        List<Integer> pos = r.getList(4);
        featureUnits.computeIfAbsent(r.getString(0), k -> new ArrayList<>()).add(AttributedUnit.feature(r.getInt(1),
            r.getInt(2), pos.stream().mapToInt(Integer::intValue).toArray(), r.getDouble(3)));
      }
    }
    List<Cell> cells = new ArrayList<>();
    for (Row g : chosen.values()) {
      String id = g.getString(0);
      cells.add(new Cell(id, g.isNullAt(1) ? null : g.getString(1), g.getLong(3), g.isNullAt(4) ? -1 : g.getLong(4),
          g.getString(2), geneUnits.getOrDefault(id, List.of()), featureUnits.getOrDefault(id, List.of())));
    }
    return new Plan(sentencesPath, folders, cells, graphs.size());
  }

  /** The {@code n} rows of each cell with the largest |a| (ties by {@code order}), numbered from 1 in column rank. */
  private static Dataset<Row> top(Dataset<Row> units, int n, org.apache.spark.sql.Column... order) {
    org.apache.spark.sql.Column[] by = new org.apache.spark.sql.Column[order.length + 1];
    by[0] = abs(col("a")).desc();
    System.arraycopy(order, 0, by, 1, order.length);
    WindowSpec w = Window.partitionBy("cell_id").orderBy(by);
    return units.withColumn("rank", row_number().over(w)).filter(col("rank").leq(n));
  }

  /** Runs the plan and writes its tables under {@code attemptDir}. */
  public static Outcome run(SparkSession spark, Plan plan, ValidationSettings settings, String attemptDir,
      LongAccumulator cellsDone) throws IOException {
    long start = System.nanoTime();
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Map<String, Cell> byId = new HashMap<>();
    plan.cells().forEach(c -> byId.put(c.cellId(), c));
    Broadcast<HashMap<String, Cell>> cells = jsc.broadcast(new HashMap<>(byId));
    Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
    int partitions = Math.max(1, (plan.cells().size() + settings.cellsPerTask() - 1) / settings.cellsPerTask());
    long units = plan.cells().stream().mapToLong(c -> c.genes().size() + c.features().size()).sum();
    spark.sparkContext().setJobDescription(String.format(Locale.ROOT,
        "interpret: knockout check of %,d cells' circuits (%,d removals) in %d tasks", plan.cells().size(), units,
        partitions));
    try {
      JavaRDD<Row> input = spark.read().parquet(plan.sentencesPath()).select("cell_id", "cell_type", "genes", "prompt")
          .javaRDD()
          .filter(r -> !r.isNullAt(0) && cells.value().containsKey(r.getString(0)))
          .repartition(partitions);
      spark.createDataFrame(input.mapPartitions(new ValidateTask(settings, plan.folders(), cells, conf, cellsDone)),
          KNOCKOUTS_SCHEMA).coalesce(1).write().parquet(attemptDir + "/" + KNOCKOUTS_TABLE);
    } finally {
      cells.destroy();
    }
    List<Row> written = spark.read().parquet(attemptDir + "/" + KNOCKOUTS_TABLE)
        .select("cell_id", "cell_type", "kind", "attribution", "logprob_drop", "prediction_changed").collectAsList();
    // counted from the rows written, not with an accumulator, which a retried task would add to twice
    long expected = plan.cells().stream().filter(c -> !c.genes().isEmpty() || !c.features().isEmpty()).count();
    long found = written.stream().map(r -> r.getString(0)).distinct().count();
    if (found != expected || written.size() != units) {
      throw new IllegalStateException(String.format(
          "interpret validation: the tasks checked %d cells (%d removals); the plan has %d cells with units (%d "
              + "removals) in the sentences table %s (is a cell_id there twice, or was sentences rerun after "
              + "circuits?)", found, written.size(), expected, units, plan.sentencesPath()));
    }
    List<ValidationSummary.Pair> pairs = new ArrayList<>(written.size());
    for (Row r : written) {
      pairs.add(new ValidationSummary.Pair(r.getString(0), r.isNullAt(1) ? null : r.getString(1), r.getString(2),
          r.getDouble(3), r.getDouble(4), r.getBoolean(5)));
    }
    ValidationSummary summary = ValidationSummary.of(pairs);
    List<Row> rows = new ArrayList<>();
    for (ValidationSummary.Row s : summary.rows()) {
      rows.add(RowFactory.create(s.cellType(), s.kind(), s.cells(), s.units(), s.spearman(), s.changedShare(),
          s.meanLogprobDrop()));
    }
    spark.createDataFrame(rows, SUMMARY_SCHEMA).coalesce(1).write().parquet(attemptDir + "/" + SUMMARY_TABLE);
    double seconds = (System.nanoTime() - start) / 1e9;
    String table = String.format(Locale.ROOT, "knockout check of the circuits: %,d cells (%d per type of the %,d "
            + "traced), top %d genes knocked out of the sentence and top %d features zeroed each, %,d removals in %.1f "
            + "s%n", plan.cells().size(), settings.cellsPerType(), plan.traced(), settings.topGenes(),
        settings.topFeatures(), written.size(), seconds) + summary.format();
    Path file = new Path(attemptDir, TABLE_FILE);
    try (OutputStream out = file.getFileSystem(hadoop).create(file, false)) {
      out.write(table.getBytes(StandardCharsets.UTF_8));
    }
    LOG.info(String.format(Locale.ROOT, "interpret validation: %,d removals of %,d cells in %.1f s", written.size(),
        plan.cells().size(), seconds));
    return new Outcome(written.size(), rows.size(), summary, table);
  }

  /** The work of one task: its cells rerun with each removal. */
  private static final class ValidateTask implements FlatMapFunction<Iterator<Row>, Row> {
    private static final long serialVersionUID = 1L;
    private final ValidationSettings settings;
    private final Map<Integer, String> folders;
    private final Broadcast<HashMap<String, Cell>> cells;
    private final Broadcast<SerializableConfiguration> conf;
    private final LongAccumulator cellsDone;

    ValidateTask(ValidationSettings settings, Map<Integer, String> folders, Broadcast<HashMap<String, Cell>> cells,
        Broadcast<SerializableConfiguration> conf, LongAccumulator cellsDone) {
      this.settings = settings;
      this.folders = new TreeMap<>(folders);
      this.cells = cells;
      this.conf = conf;
      this.cellsDone = cellsDone;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
      if (!rows.hasNext()) {
        return Collections.emptyIterator();
      }
      long start = System.nanoTime();
      TaskContext tc = TaskContext.get();
      Configuration hadoop = conf.value().value();
      ExecutorModels.Loaded loaded = ExecutorModels.get(settings.model(), tc == null ? 1 : tc.cpus(), hadoop);
      ReplacementWeights weights = CircuitsJob.replacementWeights(loaded, folders, hadoop);
      CircuitValidator validator = new CircuitValidator(loaded.model(), weights, c -> c.tokenize(loaded.prompts()));
      List<Row> out = new ArrayList<>();
      int n = 0;
      while (rows.hasNext()) {
        Row r = rows.next();
        String cellId = r.getString(0);
        Cell cell = cells.value().get(cellId);
        if (r.isNullAt(3)) {
          throw new IllegalArgumentException(String.format("cell %s has no prompt (null)", cellId));
        }
        List<String> genes = r.isNullAt(2) ? List.of() : r.getList(2);
        CellPrompt prompt = new CellPrompt(cellId, cell.cellType(), genes, r.getString(3));
        List<KnockoutEffect> effects = validator.validate(prompt, cell.target(), cell.genes(), cell.features());
        for (KnockoutEffect e : effects) {
          AttributedUnit u = e.unit();
          boolean isGene = u.kind() == AttributedUnit.Kind.GENE;
          out.add(RowFactory.create(cellId, cell.cellType(), u.kind().text(), u.gene(), isGene ? null : u.layer(),
              isGene ? null : u.feature(), e.rank(), u.attribution(), e.baseLogprob(), e.logprobDrop(), e.valueDrop(),
              e.predictionChanged()));
        }
        n++;
        if (cellsDone != null) {
          cellsDone.add(1);
        }
      }
      LOG.info(String.format(Locale.ROOT, "interpret validation task %d: %d cells in %.1f s",
          tc == null ? -1 : tc.partitionId(), n, (System.nanoTime() - start) / 1e9));
      return out.iterator();
    }
  }
}
