package org.cellcircuits.ml;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.SparseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.BooleanParam;
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
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.sentences.AtlasMeta;
import org.cellcircuits.sentences.AtlasSubset;
import org.cellcircuits.sentences.CellSentenceBuilder;
import org.cellcircuits.sentences.NumpyRandomState;
import org.cellcircuits.sentences.PromptTemplate;
import org.cellcircuits.sentences.TieOrder;

/**
 * The {@code sentences} stage as a Spark ML {@link Transformer}: a column of expression vectors (one cell a row, gene
 * j = {@code geneNames[j]}) in; its cell2sentence {@code genes}, {@code sentence}, {@code prompt} and
 * {@code n_expressed} out, built by the stage's own {@link CellSentenceBuilder} and {@link PromptTemplate}.
 *
 * <pre>{@code
 * CellSentenceTransformer c2s = new CellSentenceTransformer().setInputCol("expression")
 *     .setGeneNames(genes).setTopK(64);              // ties = c2s: rowIndexCol "atlas_row" numbers the cells
 * Dataset<Row> prompts = c2s.transform(cells);
 * }</pre>
 *
 * <p>Stored entries: a {@link SparseVector}'s entries are its stored entries (explicit zeros included, as in an
 * h5ad's CSR {@code X}); a {@link DenseVector} stores its non-zero entries.
 *
 * <p>Ties. {@code gene-order} is row-wise. {@code c2s} is cell2sentence's order byte for byte, which is not row-wise:
 * each cell's tie-break draws come from one numpy generator that every earlier cell of the atlas advanced. So with
 * {@code c2s} the rows must be the whole atlas or a prefix of it, numbered in {@code rowIndexCol} 0..n-1 in atlas order
 * (as the stage's {@code atlas_row}), each once, in any partitioning or order. The transformer then runs the stage's
 * pre-pass: one Spark job collects each row's stored-entry count (12 bytes a row to the driver), the driver walks the
 * generator over them and records its state every {@code tieBreakRangeRows} rows, and the rows are range-partitioned by
 * that block and sorted, so each block is built from its recorded state (and its end state checked against the next
 * block's). Its sentences then equal the stage's for the same atlas without filters ({@code min-genes-per-cell},
 * {@code min-cells-per-gene}, {@code exclude-ribo-mito} at their defaults: the filters change which entries take draws
 * and need whole-atlas counts; filter the vectors before instead, with ties = gene-order, or use the stage).
 */
public final class CellSentenceTransformer extends Transformer implements DefaultParamsWritable {
  private static final long serialVersionUID = 1L;

  private final String uid;

  private final Param<String> inputCol;
  private final StringArrayParam geneNames;
  private final IntParam topK;
  private final Param<String> ties;
  private final LongParam seed;
  private final Param<String> rowIndexCol;
  private final IntParam tieBreakRangeRows;
  private final BooleanParam upperCase;
  private final BooleanParam dropExplicitZeros;
  private final Param<String> template;
  private final Param<String> organism;
  private final Param<String> genesCol;
  private final Param<String> sentenceCol;
  private final Param<String> promptCol;
  private final Param<String> expressedCol;

  public CellSentenceTransformer() {
    this(Identifiable$.MODULE$.randomUID("cellSentence"));
  }

  /** With a given uid (MLlib's readers call this). */
  public CellSentenceTransformer(String uid) {
    this.uid = uid;
    inputCol = new Param<>(this, "inputCol", "column of expression vectors (ml.linalg Vector, sparse or dense), "
        + "one cell a row; default 'expression'");
    geneNames = new StringArrayParam(this, "geneNames", "gene symbol of each vector index (the atlas's var "
        + "names, in column order); required, at least one", MlParams.<String[]>validator(a -> a.length > 0));
    topK = new IntParam(this, "topK", "genes per sentence (>= 1), also the prompt's {num_genes}; default 200, "
        + "what C2S-Pythia-410m's cell-type model saw", ParamValidators.gtEq(1));
    ties = new Param<>(this, "ties", "order of genes with equal counts: c2s (cell2sentence's seeded shuffle, "
        + "byte-identical; needs rowIndexCol) or gene-order (ascending vector index); default c2s",
        ParamValidators.inArray(Arrays.asList("c2s", "gene-order")));
    seed = new LongParam(this, "seed", "numpy seed of the c2s tie-break, 0 to 4294967295; default 42 "
        + "(cell2sentence's random_state)", ParamValidators.inRange(0, NumpyRandomState.MAX_SEED));
    rowIndexCol = new Param<>(this, "rowIndexCol", "column (bigint or int) numbering the cells 0..n-1 in atlas "
        + "order; read only with ties = c2s; default 'atlas_row'");
    tieBreakRangeRows = new IntParam(this, "tieBreakRangeRows", "with ties = c2s, rows per block whose generator "
        + "state the pre-pass records (>= 1); the output has one block or more per partition; default 4096",
        ParamValidators.gtEq(1));
    upperCase = new BooleanParam(this, "upperCase", "upper-case gene symbols as cell2sentence does; default true");
    dropExplicitZeros = new BooleanParam(this, "dropExplicitZeros", "leave stored zero counts out of the "
        + "sentence (cell2sentence keeps them after every expressed gene); default false");
    template = new Param<>(this, "template", "prompt around the sentence, with {num_genes}, {organism}, "
        + "{cell_sentence}; default cell2sentence's cell-type template 0", MlParams.<String>validator(CellSentenceTransformer::validTemplate));
    organism = new Param<>(this, "organism", "the prompt's {organism}, not blank; default 'Homo sapiens'",
        MlParams.<String>validator(o -> !o.isBlank()));
    genesCol = new Param<>(this, "genesCol", "output: the ranked genes (array<string>, top K); default 'genes'");
    sentenceCol = new Param<>(this, "sentenceCol", "output: the genes joined by single spaces; default 'sentence'");
    promptCol = new Param<>(this, "promptCol", "output: the prompt; default 'prompt'");
    expressedCol = new Param<>(this, "expressedCol", "output: genes with a count > 0 (all, not only the top K); "
        + "default 'n_expressed'");
    setDefault(inputCol, "expression");
    setDefault(topK, 200);
    setDefault(ties, TieOrder.C2S.configName());
    setDefault(seed, 42L);
    setDefault(rowIndexCol, "atlas_row");
    setDefault(tieBreakRangeRows, 4096);
    setDefault(upperCase, true);
    setDefault(dropExplicitZeros, false);
    setDefault(template, PromptTemplate.C2S_CELL_TYPE_0);
    setDefault(organism, "Homo sapiens");
    setDefault(genesCol, "genes");
    setDefault(sentenceCol, "sentence");
    setDefault(promptCol, "prompt");
    setDefault(expressedCol, "n_expressed");
  }

  private static boolean validTemplate(String text) {
    try {
      new PromptTemplate(text);
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  @Override
  public String uid() {
    return uid;
  }

  // ---- params (MLlib finds them through these public no-argument methods) ---------------------------------------

  public Param<String> inputCol() { return inputCol; }
  public StringArrayParam geneNames() { return geneNames; }
  public IntParam topK() { return topK; }
  public Param<String> ties() { return ties; }
  public LongParam seed() { return seed; }
  public Param<String> rowIndexCol() { return rowIndexCol; }
  public IntParam tieBreakRangeRows() { return tieBreakRangeRows; }
  public BooleanParam upperCase() { return upperCase; }
  public BooleanParam dropExplicitZeros() { return dropExplicitZeros; }
  public Param<String> template() { return template; }
  public Param<String> organism() { return organism; }
  public Param<String> genesCol() { return genesCol; }
  public Param<String> sentenceCol() { return sentenceCol; }
  public Param<String> promptCol() { return promptCol; }
  public Param<String> expressedCol() { return expressedCol; }

  public String getInputCol() { return $(inputCol); }
  public String[] getGeneNames() { return $(geneNames); }
  public int getTopK() { return (Integer) $(topK); }
  public String getTies() { return $(ties); }
  public long getSeed() { return (Long) $(seed); }
  public String getRowIndexCol() { return $(rowIndexCol); }
  public int getTieBreakRangeRows() { return (Integer) $(tieBreakRangeRows); }
  public boolean getUpperCase() { return (Boolean) $(upperCase); }
  public boolean getDropExplicitZeros() { return (Boolean) $(dropExplicitZeros); }
  public String getTemplate() { return $(template); }
  public String getOrganism() { return $(organism); }
  public String getGenesCol() { return $(genesCol); }
  public String getSentenceCol() { return $(sentenceCol); }
  public String getPromptCol() { return $(promptCol); }
  public String getExpressedCol() { return $(expressedCol); }

  public CellSentenceTransformer setInputCol(String v) { set(inputCol, v); return this; }
  public CellSentenceTransformer setGeneNames(String[] v) { set(geneNames, v); return this; }
  public CellSentenceTransformer setGeneNames(List<String> v) { return setGeneNames(v.toArray(new String[0])); }
  public CellSentenceTransformer setTopK(int v) { set(topK, v); return this; }
  public CellSentenceTransformer setTies(String v) { set(ties, v); return this; }
  public CellSentenceTransformer setSeed(long v) { set(seed, v); return this; }
  public CellSentenceTransformer setRowIndexCol(String v) { set(rowIndexCol, v); return this; }
  public CellSentenceTransformer setTieBreakRangeRows(int v) { set(tieBreakRangeRows, v); return this; }
  public CellSentenceTransformer setUpperCase(boolean v) { set(upperCase, v); return this; }
  public CellSentenceTransformer setDropExplicitZeros(boolean v) { set(dropExplicitZeros, v); return this; }
  public CellSentenceTransformer setTemplate(String v) { set(template, v); return this; }
  public CellSentenceTransformer setOrganism(String v) { set(organism, v); return this; }
  public CellSentenceTransformer setGenesCol(String v) { set(genesCol, v); return this; }
  public CellSentenceTransformer setSentenceCol(String v) { set(sentenceCol, v); return this; }
  public CellSentenceTransformer setPromptCol(String v) { set(promptCol, v); return this; }
  public CellSentenceTransformer setExpressedCol(String v) { set(expressedCol, v); return this; }

  // ---- Transformer ---------------------------------------------------------------------------------------------

  @Override
  public StructType transformSchema(StructType schema) {
    if (!isDefined(geneNames)) {
      throw new IllegalArgumentException(String.format("%s parameter geneNames is not set; set the gene symbol of "
          + "each vector index (setGeneNames)", uid));
    }
    MlParams.requireVector(schema, "inputCol", getInputCol());
    if (tieOrder() == TieOrder.C2S) {
      MlParams.requireIntegral(schema, "rowIndexCol", getRowIndexCol());
    }
    MlParams.requireAbsent(schema, "genesCol", getGenesCol());
    MlParams.requireAbsent(schema, "sentenceCol", getSentenceCol());
    MlParams.requireAbsent(schema, "promptCol", getPromptCol());
    MlParams.requireAbsent(schema, "expressedCol", getExpressedCol());
    return schema
        .add(getGenesCol(), DataTypes.createArrayType(DataTypes.StringType, false), false)
        .add(getSentenceCol(), DataTypes.StringType, false)
        .add(getPromptCol(), DataTypes.StringType, false)
        .add(getExpressedCol(), DataTypes.IntegerType, false);
  }

  private TieOrder tieOrder() {
    return TieOrder.parse(getTies());
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType out = transformSchema(dataset.schema());
    Dataset<Row> df = dataset.toDF();
    int width = df.schema().size();
    int vectorAt = df.schema().fieldIndex(getInputCol());
    Settings settings = new Settings(getGeneNames(), getTopK(), tieOrder(), getUpperCase(), getDropExplicitZeros(),
        getTemplate(), getOrganism());
    JavaRDD<Row> rows;
    if (settings.ties() == TieOrder.GENE_ORDER) {
      rows = df.javaRDD().mapPartitions(it -> new Rows(it, settings, width, vectorAt, -1, 0, null));
    } else {
      String index = getRowIndexCol();
      int rangeRows = getTieBreakRangeRows();
      List<NumpyRandomState.State> starts = tieBreakPrepass(df, index, vectorAt, rangeRows);
      int ranges = starts.size() - 1;
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(df.sparkSession().sparkContext());
      Broadcast<List<NumpyRandomState.State>> states = jsc.broadcast(starts);
      int partitions = Math.max(1, Math.min(ranges, df.rdd().getNumPartitions()));
      String block = "__cellcircuits_tie_block";
      Dataset<Row> blocked = df.withColumn(block, functions.floor(functions.col(index).divide(rangeRows)))
          .repartitionByRange(partitions, functions.col(block))
          .sortWithinPartitions(functions.col(index));
      int indexAt = df.schema().fieldIndex(index);
      rows = blocked.javaRDD().mapPartitions(
          it -> new Rows(it, settings, width, vectorAt, indexAt, rangeRows, states.value()));
    }
    return df.sparkSession().createDataFrame(rows, out);
  }

  /**
   * The stage's pre-pass over a DataFrame: every row's stored-entry count by its index, checked to number 0..n-1,
   * walked through one generator; returns the state at the start of each block of {@code rangeRows} rows and, last,
   * the end state.
   */
  private List<NumpyRandomState.State> tieBreakPrepass(Dataset<Row> df, String index, int vectorAt,
                                                       int rangeRows) {
    int indexAt = df.schema().fieldIndex(index);
    List<long[]> pairs = df.javaRDD().map(r -> {
      if (r.isNullAt(indexAt)) {
        throw new IllegalArgumentException(String.format("rowIndexCol: column '%s' has a null", index));
      }
      return new long[] {((Number) r.get(indexAt)).longValue(), stored(r, vectorAt)};
    }).collect();
    int n = pairs.size();
    int[] counts = new int[n];
    boolean[] seen = new boolean[n];
    for (long[] p : pairs) {
      long i = p[0];
      if (i < 0 || i >= n || seen[(int) i]) {
        throw new IllegalArgumentException(String.format("rowIndexCol: column '%s' must number the %d cells 0..%d "
            + "in atlas order, each once (ties = c2s replays cell2sentence's one generator over every earlier "
            + "cell); it holds %s %d. Use ties = gene-order for a subset of an atlas's cells", index, n, n - 1,
            i < 0 || i >= n ? "the index" : "twice the index", i));
      }
      seen[(int) i] = true;
      counts[(int) i] = (int) p[1];
    }
    NumpyRandomState rng = new NumpyRandomState(getSeed());
    List<NumpyRandomState.State> starts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (i % rangeRows == 0) {
        starts.add(rng.state());
      }
      rng.skipShuffle(counts[i]);
    }
    starts.add(rng.state());
    return starts;
  }

  private static int stored(Row r, int vectorAt) {
    Vector v = (Vector) r.get(vectorAt);
    if (v instanceof SparseVector s) {
      return s.indices().length;
    }
    return v == null ? 0 : v.numNonzeros();
  }

  /** The stage's settings as one serializable value for the tasks. */
  private record Settings(String[] geneNames, int topK, TieOrder ties, boolean upperCase, boolean dropExplicitZeros,
                          String template, String organism) implements Serializable {
    CellSentenceBuilder builder() {
      AtlasMeta meta = new AtlasMeta("inputCol", 0, Arrays.asList(geneNames), List.of());
      return new CellSentenceBuilder(meta, AtlasSubset.all(geneNames.length), topK, ties, upperCase,
          dropExplicitZeros);
    }
  }

  /**
   * One output row per input row, built as the stage's {@code SentenceCursor} builds one cell. With c2s the rows come
   * sorted by index, whole blocks per partition: each block restores its recorded start state, and its end is checked
   * against the next block's start.
   */
  private static final class Rows implements Iterator<Row> {
    private final Iterator<Row> in;
    private final Settings settings;
    private final int width;
    private final int vectorAt;
    private final int indexAt;
    private final int rangeRows;
    private final List<NumpyRandomState.State> states;
    private final CellSentenceBuilder builder;
    private final PromptTemplate.Utf8 prompt;
    private NumpyRandomState rng;
    private long block = -1;
    private long nextIndex = -1;

    Rows(Iterator<Row> in, Settings settings, int width, int vectorAt, int indexAt, int rangeRows,
         List<NumpyRandomState.State> states) {
      this.in = in;
      this.settings = settings;
      this.width = width;
      this.vectorAt = vectorAt;
      this.indexAt = indexAt;
      this.rangeRows = rangeRows;
      this.states = states;
      this.builder = settings.builder();
      this.prompt = new PromptTemplate(settings.template()).utf8(settings.topK(), settings.organism());
    }

    @Override
    public boolean hasNext() {
      if (in.hasNext()) {
        return true;
      }
      endBlock();
      return false;
    }

    @Override
    public Row next() {
      if (!in.hasNext()) {
        throw new NoSuchElementException();
      }
      Row r = in.next();
      String cell = "at row index " + (indexAt >= 0 ? r.get(indexAt) : "?");
      if (states != null) {
        long i = ((Number) r.get(indexAt)).longValue();
        if (i / rangeRows != block) {
          endBlock();
          block = i / rangeRows;
          if (i != block * rangeRows) {
            throw new IllegalStateException(String.format("rowIndexCol: block %d starts at index %d, not %d; the "
                + "rows changed between the pre-pass and the build (a non-deterministic input?)", block, i,
                block * rangeRows));
          }
          rng = NumpyRandomState.restore(states.get((int) block));
        } else if (i != nextIndex) {
          throw new IllegalStateException(String.format("rowIndexCol: index %d follows %d; the rows changed "
              + "between the pre-pass and the build", i, nextIndex - 1));
        }
        nextIndex = i + 1;
      }
      Vector v = (Vector) r.get(vectorAt);
      if (v == null) {
        throw new IllegalArgumentException(String.format("inputCol: the cell %s has a null vector", cell));
      }
      if (v.size() != settings.geneNames().length) {
        throw new IllegalArgumentException(String.format("inputCol: the cell %s has a vector of size %d; "
            + "geneNames has %d names", cell, v.size(), settings.geneNames().length));
      }
      int[] indices;
      double[] values;
      if (v instanceof SparseVector s) {
        indices = s.indices();
        values = s.values();
      } else {
        DenseVector d = (DenseVector) v;
        int nnz = d.numNonzeros();
        indices = new int[nnz];
        values = new double[nnz];
        int k = 0;
        for (int j = 0; j < d.size(); j++) {
          if (d.apply(j) != 0) {
            indices[k] = j;
            values[k++] = d.apply(j);
          }
        }
      }
      int n = builder.rank(cell, indices, values, 0, indices.length, rng);
      String[] genes = new String[n];
      for (int g = 0; g < n; g++) {
        genes[g] = builder.word(builder.rankedColumn(g));
      }
      byte[] sentence = builder.sentenceUtf8(n);
      Object[] values2 = new Object[width + 4];
      for (int c = 0; c < width; c++) {
        values2[c] = r.get(c);
      }
      values2[width] = genes;
      values2[width + 1] = new String(sentence, java.nio.charset.StandardCharsets.UTF_8);
      values2[width + 2] = new String(prompt.format(sentence), java.nio.charset.StandardCharsets.UTF_8);
      values2[width + 3] = builder.expressedGenes();
      return RowFactory.create(values2);
    }

    private void endBlock() {
      if (states != null && block >= 0 && !rng.state().equals(states.get((int) block + 1))) {
        throw new IllegalStateException(String.format("ties = c2s: block %d (indices from %d) took other tie-break "
            + "draws than the pre-pass counted; the rows changed between the pre-pass and the build", block,
            block * rangeRows));
      }
    }
  }

  @Override
  public CellSentenceTransformer copy(ParamMap extra) {
    return (CellSentenceTransformer) defaultCopy(extra);
  }

  /** MLlib's reader: metadata only (params); {@code CellSentenceTransformer.load(path)} from notebooks. */
  public static MLReader<CellSentenceTransformer> read() {
    return new DefaultParamsReader<>();
  }

  public static CellSentenceTransformer load(String path) {
    return read().load(path);
  }
}
