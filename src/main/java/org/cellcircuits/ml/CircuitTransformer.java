package org.cellcircuits.ml;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import org.cellcircuits.circuits.Attribution;
import org.cellcircuits.circuits.CircuitParams;
import org.cellcircuits.circuits.CircuitSettings;
import org.cellcircuits.circuits.PruneMethod;
import org.cellcircuits.circuits.TargetSpec;
import org.cellcircuits.evaluate.CellEvaluator;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.jobs.CellTracer;
import org.cellcircuits.jobs.CircuitsJob;
import org.cellcircuits.jobs.ConfigLoader;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.runtime.ModelFolder;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderCfgJson;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderStore;

/**
 * The {@code circuits} stage as a Spark ML {@link Transformer}: cells' prompts in; one row per cell out with its
 * attribution graph's figures (the columns of {@link CircuitsJob#GRAPHS_SCHEMA}) and its pruned graph's nodes and
 * edges as {@code array<struct>} columns ({@code nodesCol}, {@code edgesCol}: the rows of {@code circuits/nodes} and
 * {@code circuits/edges} without their {@code cell_id}). Each cell goes through {@link CellTracer}, the stage's own
 * per-cell code, with the model and transcoders loaded once per executor JVM.
 *
 * <pre>{@code
 * CircuitTransformer circuits = new CircuitTransformer().setModelPath("models/c2s-pythia")
 *     .setRunRoot("runs/demo")                        // the committed train stage's transcoders
 *     .setMaxFeatureNodes(256);
 * Dataset<Row> graphs = circuits.transform(prompts.repartition(64));   // cells per task = rows per partition
 * }</pre>
 *
 * <p>Params: each circuits param is the {@code cellcircuits.circuits} key in its doc, with that key's
 * {@code reference.conf} default; {@code device} and {@code precision} are {@code cellcircuits.model}'s. The
 * transcoders are either a run root whose train stage committed ({@code runRoot}) or a list of train-stage transcoder
 * folders ({@code transcoderFolders}, the layer read from each folder's {@code cfg.json}; a saved
 * {@link TranscoderModel}'s {@code path/data} is one). Exactly one of the two must be set.
 *
 * <p>Output columns: the input's columns, except those named like a graph column ({@code cell_id}, {@code cell_type},
 * {@code predicted_cell_type} are replaced by the graph's, which carry the input's values; any other clash fails),
 * then the graph's, then {@code nodesCol} and {@code edgesCol}. {@code seconds} is the cell's wall time, so it is the
 * only column that differs between two runs.
 *
 * <p>Persistence: {@code metadata/} only (MLlib's {@code DefaultParamsWritable}); the model and the transcoders are
 * referenced by path, not copied, so a loaded transformer needs them where they were.
 */
public final class CircuitTransformer extends Transformer implements DefaultParamsWritable {
  private static final long serialVersionUID = 1L;
  private static final Set<String> CARRIED = Set.of("cell_id", "cell_type", "predicted_cell_type");

  /** The kept nodes' struct: {@link CircuitsJob#NODES_SCHEMA} without {@code cell_id}. */
  public static final StructType NODE_STRUCT = withoutCellId(CircuitsJob.NODES_SCHEMA);
  /** The kept edges' struct: {@link CircuitsJob#EDGES_SCHEMA} without {@code cell_id}. */
  public static final StructType EDGE_STRUCT = withoutCellId(CircuitsJob.EDGES_SCHEMA);
  /** The output column of the circuit-tracer JSON of the rows {@code exportCol} asks for. */
  public static final String EXPORT_JSON_COL = "circuit_tracer_json";

  private final String uid;
  private final Param<String> modelPath;
  private final Param<String> device;
  private final Param<String> precision;
  private final Param<String> runRoot;
  private final StringArrayParam transcoderFolders;
  private final Param<String> target;
  private final IntParam maxFeatureNodes;
  private final IntParam batchSize;
  private final IntParam updateInterval;
  private final Param<String> method;
  private final DoubleParam nodeThreshold;
  private final DoubleParam edgeThreshold;
  private final IntParam greedyK;
  private final IntParam maxTokens;
  private final IntParam ablationFeatures;
  private final LongParam seed;
  private final Param<String> cellIdCol;
  private final Param<String> cellTypeCol;
  private final Param<String> genesCol;
  private final Param<String> promptCol;
  private final Param<String> predictedCellTypeCol;
  private final Param<String> nodesCol;
  private final Param<String> edgesCol;
  private final Param<String> exportCol;
  /** Counts traced cells for the caller's progress report (the stage's); not a param, not saved. */
  private transient LongAccumulator cellsDone;

  public CircuitTransformer() {
    this(Identifiable$.MODULE$.randomUID("circuits"));
  }

  /** With a given uid (MLlib's readers call this). */
  public CircuitTransformer(String uid) {
    this.uid = uid;
    // Params take their owner's uid when made, so they are made here, after it is set.
    modelPath = new Param<>(this, "modelPath", "(model.path) HuggingFace checkpoint folder (config.json, "
        + "model.safetensors, tokenizer.json), local or a Hadoop URI; required", MlParams.<String>validator(
            s -> !s.isBlank()));
    device = new Param<>(this, "device", "(model.device) auto, cpu, gpu or gpu:N", MlParams.<String>validator(
        s -> s.equals("auto") || s.equals("cpu") || s.matches("gpu(:\\d+)?")));
    precision = new Param<>(this, "precision", "(model.precision) auto, fp32, fp16 or bf16",
        ParamValidators.inArray(Arrays.asList("auto", "fp32", "fp16", "bf16")));
    runRoot = new Param<>(this, "runRoot", "a run root whose train stage committed: its transcoders/layer=L "
        + "folders are the transcoders (or set transcoderFolders)", MlParams.<String>validator(s -> !s.isBlank()));
    transcoderFolders = new StringArrayParam(this, "transcoderFolders", "train-stage transcoder folders "
        + "(weights.safetensors + cfg.json; a saved TranscoderModel's path/data), at most one per layer, at least "
        + "one (or set runRoot)", MlParams.<String[]>validator(a -> a.length > 0));
    target = new Param<>(this, "target", "(circuits.target) predicted, annotated, label:<cell type> or "
        + "difference:<type a>|<type b>", MlParams.<String>validator(CircuitTransformer::validTarget));
    maxFeatureNodes = new IntParam(this, "maxFeatureNodes", "(circuits.max-feature-nodes) the node budget: "
        + "features given rows (>= 1)", ParamValidators.gtEq(1));
    batchSize = new IntParam(this, "batchSize", "(circuits.batch-size) rows per backward pass (>= 1)",
        ParamValidators.gtEq(1));
    updateInterval = new IntParam(this, "updateInterval", "(circuits.update-interval) batches between "
        + "re-rankings by influence (>= 1)", ParamValidators.gtEq(1));
    method = new Param<>(this, "method", "(circuits.method) pruning: influence or greedy",
        ParamValidators.inArray(Arrays.asList("influence", "greedy")));
    nodeThreshold = new DoubleParam(this, "nodeThreshold", "(circuits.node-threshold) share of the influence "
        + "the kept nodes carry, in [0, 1]", ParamValidators.inRange(0, 1));
    edgeThreshold = new DoubleParam(this, "edgeThreshold", "(circuits.edge-threshold) share of the edge "
        + "influence the kept edges carry, in [0, 1]", ParamValidators.inRange(0, 1));
    greedyK = new IntParam(this, "greedyK", "(circuits.greedy-k) inputs followed per node by greedy (>= 1)",
        ParamValidators.gtEq(1));
    maxTokens = new IntParam(this, "maxTokens", "(circuits.max-tokens) longest prompt traced; a longer one "
        + "fails naming its cell (>= 1)", ParamValidators.gtEq(1));
    ablationFeatures = new IntParam(this, "ablationFeatures", "(circuits.ablation-features) features zeroed "
        + "by the causal check (>= 0; 0 skips it)", ParamValidators.gtEq(0));
    seed = new LongParam(this, "seed", "(circuits.seed) seeds the random features of the ablation check");
    cellIdCol = new Param<>(this, "cellIdCol", "input: cell id (string, not null); default 'cell_id'");
    cellTypeCol = new Param<>(this, "cellTypeCol", "input, optional: annotated cell type (string); default "
        + "'cell_type'");
    genesCol = new Param<>(this, "genesCol", "input: the genes the prompt spells, in order (array<string>); "
        + "default 'genes'");
    promptCol = new Param<>(this, "promptCol", "input: the prompt (string); default 'prompt'");
    predictedCellTypeCol = new Param<>(this, "predictedCellTypeCol", "input, optional: the type the model "
        + "predicted (string; the harvest's predictions), recorded and named in the target; default "
        + "'predicted_cell_type'");
    nodesCol = new Param<>(this, "nodesCol", "output: the pruned graph's nodes, array<struct> of "
        + "circuits/nodes without cell_id; default 'circuit_nodes'");
    edgesCol = new Param<>(this, "edgesCol", "output: the pruned graph's edges, array<struct> of "
        + "circuits/edges without cell_id; default 'circuit_edges'");
    exportCol = new Param<>(this, "exportCol", "input, optional: a boolean column; rows where it is true also "
        + "get their attribution graph as circuit-tracer JSON in the output column '" + EXPORT_JSON_COL + "' (null "
        + "elsewhere); unset (the default) adds no such column", MlParams.<String>validator(s -> !s.isBlank()));

    Config m = ConfigLoader.reference().getConfig("cellcircuits.model");
    Config c = ConfigLoader.reference().getConfig("cellcircuits.circuits");
    setDefault(device, m.getString("device"));
    setDefault(precision, m.getString("precision"));
    setDefault(target, c.getString("target"));
    setDefault(maxFeatureNodes, c.getInt("max-feature-nodes"));
    setDefault(batchSize, c.getInt("batch-size"));
    setDefault(updateInterval, c.getInt("update-interval"));
    setDefault(method, c.getString("method"));
    setDefault(nodeThreshold, c.getDouble("node-threshold"));
    setDefault(edgeThreshold, c.getDouble("edge-threshold"));
    setDefault(greedyK, c.getInt("greedy-k"));
    setDefault(maxTokens, c.getInt("max-tokens"));
    setDefault(ablationFeatures, c.getInt("ablation-features"));
    setDefault(seed, c.getLong("seed"));
    setDefault(cellIdCol, "cell_id");
    setDefault(cellTypeCol, "cell_type");
    setDefault(genesCol, "genes");
    setDefault(promptCol, "prompt");
    setDefault(predictedCellTypeCol, "predicted_cell_type");
    setDefault(nodesCol, "circuit_nodes");
    setDefault(edgesCol, "circuit_edges");
  }

  private static boolean validTarget(String text) {
    try {
      TargetSpec.parse(text);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static StructType withoutCellId(StructType schema) {
    return new StructType(Arrays.stream(schema.fields()).filter(f -> !f.name().equals("cell_id"))
        .toArray(StructField[]::new));
  }

  @Override
  public String uid() {
    return uid;
  }

  public Param<String> modelPath() { return modelPath; }
  public Param<String> device() { return device; }
  public Param<String> precision() { return precision; }
  public Param<String> runRoot() { return runRoot; }
  public StringArrayParam transcoderFolders() { return transcoderFolders; }
  public Param<String> target() { return target; }
  public IntParam maxFeatureNodes() { return maxFeatureNodes; }
  public IntParam batchSize() { return batchSize; }
  public IntParam updateInterval() { return updateInterval; }
  public Param<String> method() { return method; }
  public DoubleParam nodeThreshold() { return nodeThreshold; }
  public DoubleParam edgeThreshold() { return edgeThreshold; }
  public IntParam greedyK() { return greedyK; }
  public IntParam maxTokens() { return maxTokens; }
  public IntParam ablationFeatures() { return ablationFeatures; }
  public LongParam seed() { return seed; }
  public Param<String> cellIdCol() { return cellIdCol; }
  public Param<String> cellTypeCol() { return cellTypeCol; }
  public Param<String> genesCol() { return genesCol; }
  public Param<String> promptCol() { return promptCol; }
  public Param<String> predictedCellTypeCol() { return predictedCellTypeCol; }
  public Param<String> nodesCol() { return nodesCol; }
  public Param<String> edgesCol() { return edgesCol; }
  public Param<String> exportCol() { return exportCol; }

  public CircuitTransformer setModelPath(String v) { set(modelPath, v); return this; }
  public CircuitTransformer setDevice(String v) { set(device, v); return this; }
  public CircuitTransformer setPrecision(String v) { set(precision, v); return this; }
  public CircuitTransformer setRunRoot(String v) { set(runRoot, v); return this; }
  public CircuitTransformer setTranscoderFolders(String[] v) { set(transcoderFolders, v); return this; }
  public CircuitTransformer setTarget(String v) { set(target, v); return this; }
  public CircuitTransformer setMaxFeatureNodes(int v) { set(maxFeatureNodes, v); return this; }
  public CircuitTransformer setBatchSize(int v) { set(batchSize, v); return this; }
  public CircuitTransformer setUpdateInterval(int v) { set(updateInterval, v); return this; }
  public CircuitTransformer setMethod(String v) { set(method, v); return this; }
  public CircuitTransformer setNodeThreshold(double v) { set(nodeThreshold, v); return this; }
  public CircuitTransformer setEdgeThreshold(double v) { set(edgeThreshold, v); return this; }
  public CircuitTransformer setGreedyK(int v) { set(greedyK, v); return this; }
  public CircuitTransformer setMaxTokens(int v) { set(maxTokens, v); return this; }
  public CircuitTransformer setAblationFeatures(int v) { set(ablationFeatures, v); return this; }
  public CircuitTransformer setSeed(long v) { set(seed, v); return this; }
  public CircuitTransformer setCellIdCol(String v) { set(cellIdCol, v); return this; }
  public CircuitTransformer setCellTypeCol(String v) { set(cellTypeCol, v); return this; }
  public CircuitTransformer setGenesCol(String v) { set(genesCol, v); return this; }
  public CircuitTransformer setPromptCol(String v) { set(promptCol, v); return this; }
  public CircuitTransformer setPredictedCellTypeCol(String v) { set(predictedCellTypeCol, v); return this; }
  public CircuitTransformer setNodesCol(String v) { set(nodesCol, v); return this; }
  public CircuitTransformer setEdgesCol(String v) { set(edgesCol, v); return this; }
  public CircuitTransformer setExportCol(String v) { set(exportCol, v); return this; }

  /** Adds one to {@code counter} per traced cell, for a progress report (not a param: it is not saved or copied). */
  public CircuitTransformer withProgress(LongAccumulator counter) {
    this.cellsDone = counter;
    return this;
  }

  /**
   * The transformer the {@code circuits} stage runs its cells through: every param from the stage's config
   * ({@code params}) and the committed transcoder folders it planned ({@code folders}, layer to folder).
   */
  public static CircuitTransformer forStage(CircuitParams params, Map<Integer, String> folders) {
    CircuitSettings s = params.settings();
    return new CircuitTransformer()
        .setModelPath(params.model().path())
        .setDevice(params.model().device())
        .setPrecision(params.model().precision())
        .setTranscoderFolders(new TreeMap<>(folders).values().toArray(new String[0]))
        .setTarget(params.target().toString())
        .setMaxFeatureNodes(s.attribution().maxFeatureNodes())
        .setBatchSize(s.attribution().batchSize())
        .setUpdateInterval(s.attribution().updateInterval())
        .setMethod(s.method().configName())
        .setNodeThreshold(s.nodeThreshold())
        .setEdgeThreshold(s.edgeThreshold())
        .setGreedyK(s.greedyK())
        .setMaxTokens(s.maxTokens())
        .setAblationFeatures(s.ablationFeatures())
        .setSeed(params.randomSeed());
  }

  /** The extraction settings these params give (validated as the stage validates its config). */
  public CircuitSettings settings() {
    return new CircuitSettings(
        new Attribution.Options((Integer) $(maxFeatureNodes), (Integer) $(batchSize), (Integer) $(updateInterval)),
        PruneMethod.parse($(method)), (Double) $(nodeThreshold), (Double) $(edgeThreshold), (Integer) $(greedyK),
        (Integer) $(maxTokens), (Integer) $(ablationFeatures));
  }

  private static void requireType(StructType schema, String param, String column, DataType type) {
    DataType actual = MlParams.requireColumn(schema, param, column).dataType();
    boolean same = type instanceof ArrayType want
        ? actual instanceof ArrayType got && got.elementType().equals(want.elementType()) // null elements or not
        : actual.equals(type);
    if (!same) {
      throw new IllegalArgumentException(String.format("%s: column '%s' must be of type %s but was actually %s",
          param, column, type.catalogString(), actual.catalogString()));
    }
  }

  private static boolean has(StructType schema, String column) {
    return Arrays.asList(schema.fieldNames()).contains(column);
  }

  @Override
  public StructType transformSchema(StructType schema) {
    requireType(schema, "cellIdCol", $(cellIdCol), DataTypes.StringType);
    requireType(schema, "genesCol", $(genesCol), DataTypes.createArrayType(DataTypes.StringType));
    requireType(schema, "promptCol", $(promptCol), DataTypes.StringType);
    if (has(schema, $(cellTypeCol))) {
      requireType(schema, "cellTypeCol", $(cellTypeCol), DataTypes.StringType);
    }
    if (has(schema, $(predictedCellTypeCol))) {
      requireType(schema, "predictedCellTypeCol", $(predictedCellTypeCol), DataTypes.StringType);
    }
    MlParams.requireAbsent(schema, "nodesCol", $(nodesCol));
    MlParams.requireAbsent(schema, "edgesCol", $(edgesCol));
    if (isDefined(exportCol)) {
      requireType(schema, "exportCol", $(exportCol), DataTypes.BooleanType);
      MlParams.requireAbsent(schema, "exportCol", EXPORT_JSON_COL);
    }
    if ($(nodesCol).equals($(edgesCol)) || has(CircuitsJob.GRAPHS_SCHEMA, $(nodesCol))
        || has(CircuitsJob.GRAPHS_SCHEMA, $(edgesCol))) {
      throw new IllegalArgumentException(String.format("nodesCol '%s' and edgesCol '%s' must differ from each other "
          + "and from the graph's columns %s", $(nodesCol), $(edgesCol),
          Arrays.toString(CircuitsJob.GRAPHS_SCHEMA.fieldNames())));
    }
    List<StructField> fields = new ArrayList<>();
    for (StructField f : schema.fields()) {
      if (!has(CircuitsJob.GRAPHS_SCHEMA, f.name())) {
        fields.add(f);
      } else if (!CARRIED.contains(f.name())) {
        throw new IllegalArgumentException(String.format("output column '%s' (a graph column) already exists in the "
            + "input; rename or drop it", f.name()));
      }
    }
    fields.addAll(Arrays.asList(CircuitsJob.GRAPHS_SCHEMA.fields()));
    fields.add(DataTypes.createStructField($(nodesCol), new ArrayType(NODE_STRUCT, false), false));
    fields.add(DataTypes.createStructField($(edgesCol), new ArrayType(EDGE_STRUCT, false), false));
    if (isDefined(exportCol)) {
      fields.add(DataTypes.createStructField(EXPORT_JSON_COL, DataTypes.StringType, true));
    }
    return new StructType(fields.toArray(StructField[]::new));
  }

  /**
   * What each task traces with: the model, the transcoders (resolved and checked against the model on the driver)
   * and the settings.
   */
  public CellTracer.Spec spec(Configuration hadoop) {
    if (!isDefined(modelPath)) {
      throw new IllegalArgumentException("modelPath: not set; expected the model's HuggingFace checkpoint folder");
    }
    if (isDefined(runRoot) == isDefined(transcoderFolders)) {
      throw new IllegalArgumentException("runRoot and transcoderFolders: set exactly one (" + (isDefined(runRoot)
          ? "both are set" : "neither is set") + ")");
    }
    NeoXConfig model;
    try {
      model = ModelFolder.checkedConfig(ModelFolder.local($(modelPath), hadoop));
    } catch (IOException e) {
      throw new UncheckedIOException(String.format("modelPath: %s cannot be read: %s", $(modelPath),
          e.getMessage()), e);
    }
    SortedMap<Integer, String> folders = new TreeMap<>();
    try {
      if (isDefined(runRoot)) {
        RunRoot root = RunRoot.of($(runRoot), hadoop);
        for (Map.Entry<Integer, Path> e : TranscoderStore.committedLayers(root).entrySet()) {
          folders.put(e.getKey(), e.getValue().toString());
        }
        if (folders.isEmpty()) {
          throw new IllegalArgumentException(String.format("runRoot: the train stage under %s committed no "
              + "transcoders", $(runRoot)));
        }
      } else {
        for (String folder : $(transcoderFolders)) {
          int layer = configOf(folder, hadoop).layer();
          String before = folders.put(layer, folder);
          if (before != null) {
            throw new IllegalArgumentException(String.format("transcoderFolders: %s and %s are both of layer %d",
                before, folder, layer));
          }
        }
      }
      for (Map.Entry<Integer, String> e : folders.entrySet()) {
        TranscoderConfig c = configOf(e.getValue(), hadoop);
        CellEvaluator.checkFits(e.getKey(), c.dIn(), c.dOut(), c.layer(), model.numLayers(), model.hiddenSize());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(String.format("%s: cannot read the transcoders: %s",
          isDefined(runRoot) ? "runRoot" : "transcoderFolders", e.getMessage()), e);
    }
    return new CellTracer.Spec($(modelPath), $(device), $(precision), folders, TargetSpec.parse($(target)),
        settings(), (Long) $(seed));
  }

  private static TranscoderConfig configOf(String folder, Configuration hadoop) throws IOException {
    Path cfg = new Path(folder, Transcoder.CONFIG_FILE);
    JsonObject json;
    try (InputStream in = cfg.getFileSystem(hadoop).open(cfg)) {
      json = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
    }
    return TranscoderCfgJson.read(json, cfg.toString()).config();
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType out = transformSchema(dataset.schema());
    Dataset<Row> df = dataset.toDF();
    StructType in = df.schema();
    CellTracer.Spec spec = spec(df.sparkSession().sparkContext().hadoopConfiguration());
    int[] keep = java.util.stream.IntStream.range(0, in.size())
        .filter(i -> !has(CircuitsJob.GRAPHS_SCHEMA, in.fields()[i].name())).toArray();
    Columns columns = new Columns(in.fieldIndex($(cellIdCol)),
        has(in, $(cellTypeCol)) ? in.fieldIndex($(cellTypeCol)) : -1, in.fieldIndex($(genesCol)),
        in.fieldIndex($(promptCol)), has(in, $(predictedCellTypeCol)) ? in.fieldIndex($(predictedCellTypeCol)) : -1,
        isDefined(exportCol) ? in.fieldIndex($(exportCol)) : -1, keep, $(cellIdCol));
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(df.sparkSession().sparkContext());
    Broadcast<SerializableConfiguration> conf = jsc.broadcast(
        new SerializableConfiguration(df.sparkSession().sparkContext().hadoopConfiguration()));
    LongAccumulator counter = cellsDone;
    JavaRDD<Row> rows = df.javaRDD().mapPartitions(it -> new Cells(it, spec, conf.value().value(), columns, counter));
    return df.sparkSession().createDataFrame(rows, out);
  }

  /** Where a task finds its inputs in a row, and which input values it carries to the output. */
  private record Columns(int cellId, int cellType, int genes, int prompt, int predicted, int export, int[] keep,
      String cellIdName) implements Serializable {}

  /** A partition's cells traced one at a time, as they are read; the tracer is made on the first cell. */
  private static final class Cells implements Iterator<Row> {
    private final Iterator<Row> rows;
    private final CellTracer.Spec spec;
    private final Configuration hadoop;
    private final Columns c;
    private final LongAccumulator cellsDone;
    private CellTracer tracer;

    Cells(Iterator<Row> rows, CellTracer.Spec spec, Configuration hadoop, Columns columns,
        LongAccumulator cellsDone) {
      this.rows = rows;
      this.spec = spec;
      this.hadoop = hadoop;
      this.c = columns;
      this.cellsDone = cellsDone;
    }

    @Override
    public boolean hasNext() {
      return rows.hasNext();
    }

    @Override
    public Row next() {
      if (!rows.hasNext()) {
        throw new NoSuchElementException();
      }
      Row r = rows.next();
      if (r.isNullAt(c.cellId())) {
        throw new IllegalArgumentException(String.format("cellIdCol: a row has a null '%s'", c.cellIdName()));
      }
      if (tracer == null) {
        tracer = CellTracer.forTask(spec, hadoop);
      }
      String cellId = r.getString(c.cellId());
      CellTracer.CellRows cell = tracer.trace(cellId, text(r, c.cellType()),
          r.isNullAt(c.genes()) ? List.of() : r.getList(c.genes()), text(r, c.prompt()), text(r, c.predicted()),
          c.export() >= 0 && !r.isNullAt(c.export()) && r.getBoolean(c.export()));
      if (cellsDone != null) {
        cellsDone.add(1);
      }
      int graphWidth = cell.graph().size();
      int exportWidth = c.export() >= 0 ? 1 : 0;
      Object[] values = new Object[c.keep().length + graphWidth + 2 + exportWidth];
      for (int i = 0; i < c.keep().length; i++) {
        values[i] = r.get(c.keep()[i]);
      }
      for (int i = 0; i < graphWidth; i++) {
        values[c.keep().length + i] = cell.graph().get(i);
      }
      int at = c.keep().length + graphWidth;
      values[at] = withoutFirst(cell.nodes());
      values[at + 1] = withoutFirst(cell.edges());
      if (exportWidth == 1) {
        values[at + 2] = cell.export();
      }
      return RowFactory.create(values);
    }

    private static String text(Row r, int at) {
      return at < 0 || r.isNullAt(at) ? null : r.getString(at);
    }

    /** The rows without their first value (the cell id), as the Seq a Row's array value must be. */
    private static scala.collection.Seq<Row> withoutFirst(List<Row> rows) {
      List<Row> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        Object[] v = new Object[r.size() - 1];
        for (int i = 1; i < r.size(); i++) {
          v[i - 1] = r.get(i);
        }
        out.add(RowFactory.create(v));
      }
      return scala.collection.JavaConverters.asScalaBuffer(out);
    }
  }

  @Override
  public CircuitTransformer copy(ParamMap extra) {
    return (CircuitTransformer) defaultCopy(extra);
  }

  public static MLReader<CircuitTransformer> read() {
    return new DefaultParamsReader<>();
  }

  public static CircuitTransformer load(String path) {
    return read().load(path);
  }
}
