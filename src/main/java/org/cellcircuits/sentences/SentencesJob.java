package org.cellcircuits.sentences;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.FutureAction;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import org.cellcircuits.runtime.TaskListRdd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code sentences} stage as a Spark transformation: an atlas in, one row per kept cell out with its
 * cell2sentence sentence and prompt.
 *
 * <p>Passes over the atlas, each a Spark job over the same row ranges (one task per range, each opening the
 * atlas through the {@link AtlasSource} and reading only its rows):
 * <ol>
 *   <li>only with {@code min-cells-per-gene}: cells expressing each gene, summed over partitions;
 *   <li>only when cells can be dropped, or genes are dropped in c2s mode: each row's stored-entry count after
 *       the subset (-1 when the cell is dropped). Without filters the c2s pre-pass needs just
 *       {@link AtlasReader#storedPerRow}, read on the driver;
 *   <li>c2s mode: the driver walks the generator over those counts ({@link TieBreakPrepass}) and records its
 *       state at each range's first row (without filters on a thread of its own, while ranges are built);
 *   <li>the output, one task per range: each task restores its range's state and builds its rows, and the state
 *       it ends at is checked against the one the next range starts from. Either the lazy Dataset
 *       ({@link Plan#sentences}) or Parquet files written straight from the builder ({@link Plan#writeParquet}).
 * </ol>
 * Counts (input cells, filtered cells, output rows, genes kept, pre-pass draws/s) are logged on the driver and
 * returned in the {@link Plan}; each task logs its cells/s.
 */
public final class SentencesJob {
  private static final Logger LOG = LoggerFactory.getLogger(SentencesJob.class);

  /**
   * Output columns. {@code atlas_row} (the cell's row in the atlas file) is beyond DESIGN.md's list: obs names
   * are not always unique in real atlases, and it keeps the file's order recoverable after Spark's shuffles.
   */
  public static final StructType SCHEMA = new StructType()
      .add("cell_id", DataTypes.StringType, false)
      .add("cell_type", DataTypes.StringType, true)
      .add("donor", DataTypes.StringType, true)
      .add("tissue", DataTypes.StringType, true)
      .add("genes", DataTypes.createArrayType(DataTypes.StringType, false), false)
      .add("sentence", DataTypes.StringType, false)
      .add("prompt", DataTypes.StringType, false)
      .add("n_expressed", DataTypes.IntegerType, false)
      .add("atlas_row", DataTypes.LongType, false);

  /** The columns later stages read from the sentences table; {@link #checkSchema} checks them. */
  public static final List<String> READ_COLUMNS = List.of("cell_id", "cell_type", "genes", "prompt");

  /**
   * Tests: runs in each {@link Plan#writeParquet} task after a range's file is complete and before the task reports
   * it, with the range's index (throw to simulate a task lost after writing, block to hold a driver mid-stage).
   */
  static volatile java.util.function.ObjIntConsumer<TaskContext> afterRangeFileForTests = (tc, range) -> {};

  private SentencesJob() {
  }

  /**
   * Checks that a sentences table a later stage reads has the {@link #READ_COLUMNS} with {@link #SCHEMA}'s types
   * (an array by its element type; nullability is not compared).
   *
   * @param path the table, named in the error
   * @throws IllegalArgumentException naming the table, the column and the expected type
   */
  public static void checkSchema(StructType schema, String path) {
    for (String column : READ_COLUMNS) {
      DataType want = SCHEMA.apply(column).dataType();
      StructField field = Arrays.stream(schema.fields()).filter(f -> f.name().equals(column)).findFirst()
          .orElse(null);
      if (field == null) {
        throw new IllegalArgumentException(String.format(
            "sentences table %s has no column %s (%s); its columns are %s. Was it written by the sentences stage "
                + "of this version?", path, column, want.simpleString(), String.join(", ", schema.fieldNames())));
      }
      boolean ok = want instanceof ArrayType w && field.dataType() instanceof ArrayType got
          ? w.elementType().equals(got.elementType())
          : field.dataType().equals(want);
      if (!ok) {
        throw new IllegalArgumentException(String.format(
            "sentences table %s: column %s is %s; expected %s", path, column, field.dataType().simpleString(),
            want.simpleString()));
      }
    }
  }

  /**
   * What {@link #plan} decided before any sentence is built: the counts and the lazy output. The output can be
   * had as a Dataset ({@link #sentences}) or written as Parquet straight from the builder ({@link #writeParquet},
   * what the stage's job does). In c2s mode without filters the tie-break pre-pass may still be walking when the
   * plan is returned: {@link #writeParquet} starts building the first ranges meanwhile; the Dataset and
   * {@link #tieBreakDraws} wait for it.
   */
  public static final class Plan {
    private final SparkSession spark;
    private final AtlasSource source;
    private final SentencesParams params;
    private final String atlas;
    private final RowRanges ranges;
    private final long inputCells;
    private final long droppedCells;
    private final int inputGenes;
    private final int keptGenes;
    private final Broadcast<AtlasSubset> subset;
    private final TieBreakPrepass.Checkpoints checkpoints;
    private final TieBreakPrepass.Running running;
    private final LongAccumulator cellsBuilt;
    private Dataset<Row> sentences;

    private Plan(SparkSession spark, AtlasSource source, SentencesParams params, String atlas, RowRanges ranges,
                 long inputCells,
                 long droppedCells, int inputGenes, int keptGenes, Broadcast<AtlasSubset> subset,
                 TieBreakPrepass.Checkpoints checkpoints, TieBreakPrepass.Running running,
                 LongAccumulator cellsBuilt) {
      this.spark = spark;
      this.source = source;
      this.params = params;
      this.atlas = atlas;
      this.ranges = ranges;
      this.inputCells = inputCells;
      this.droppedCells = droppedCells;
      this.inputGenes = inputGenes;
      this.keptGenes = keptGenes;
      this.subset = subset;
      this.checkpoints = checkpoints;
      this.running = running;
      this.cellsBuilt = cellsBuilt;
    }

    /** The output as a lazy Dataset (one partition per row range), in {@link #SCHEMA}. */
    public synchronized Dataset<Row> sentences() {
      if (sentences == null) {
        TieBreakPrepass.Checkpoints c = checkpoints();
        List<BuildTask> tasks = new ArrayList<>(ranges.count());
        for (int p = 0; p < ranges.count(); p++) {
          tasks.add(new BuildTask(p, ranges.start(p), ranges.end(p), c == null ? null : c.startStates().get(p),
              c == null ? null : c.endOf(p)));
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        JavaRDD<InternalRow> rows = jsc.parallelize(tasks, tasks.size())
            .mapPartitions(new SentenceRows(source, subset, params, cellsBuilt));
        // Rows are made in Spark's internal form (UTF-8 strings): through the public Row API, re-encoding 200
        // gene symbols, the sentence and the prompt per cell took ~40% of a task's time (measured with JFR).
        // internalCreateDataFrame is private[sql] in Scala, public to Java, stable in Spark 3.5.
        sentences = spark.internalCreateDataFrame(rows.rdd(), SCHEMA, false);
      }
      return sentences;
    }

    /** Cells in the atlas. */
    public long inputCells() {
      return inputCells;
    }

    /** Cells the filters dropped. */
    public long droppedCells() {
      return droppedCells;
    }

    /** Rows the output will have (inputCells - droppedCells). */
    public long outputRows() {
      return inputCells - droppedCells;
    }

    /** Genes in the atlas. */
    public int inputGenes() {
      return inputGenes;
    }

    /** Genes left after the gene filters. */
    public int keptGenes() {
      return keptGenes;
    }

    /** Row ranges (tasks, output partitions). */
    public int partitions() {
      return ranges.count();
    }

    /** 32-bit draws the c2s pre-pass walked (0 in gene-order mode); waits for the pre-pass. */
    public long tieBreakDraws() {
      TieBreakPrepass.Checkpoints c = checkpoints();
      return c == null ? 0 : c.draws();
    }

    private TieBreakPrepass.Checkpoints checkpoints() {
      try {
        return running != null ? running.checkpoints() : checkpoints;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /**
     * Writes the output into the folder {@code dir} (created; on the Spark session's Hadoop file system) as one
     * Parquet file per row range, rows straight from the sentence builder ({@link SentenceParquetWriter}): the
     * same rows, schema and codec ({@code spark.sql.parquet.compression.codec} of the SparkConf) as
     * {@code sentences().write().parquet(dir)}, at a fraction of the CPU.
     *
     * <p>Ranges are submitted as Spark jobs as soon as the pre-pass has their start state: the first range at
     * once, then every range whose state is known by then, so building overlaps the sequential walk. Each task
     * reports the generator state it ended at, and the driver compares it with the next range's start state
     * (the check the Dataset's tasks make themselves). Each task writes a file named by its range and attempt;
     * after the jobs, files that no successful attempt reported (left by failed attempts) are deleted. With
     * {@code spark.speculation} on, two attempts of one range could both finish, so then the rows go through
     * Spark's own writer instead.
     *
     * @return rows written
     */
    public long writeParquet(String dir) throws IOException {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      if (jsc.getConf().getBoolean("spark.speculation", false)) {
        LOG.info("sentences: spark.speculation is on; writing through Spark's Parquet writer");
        sentences().write().parquet(dir);
        return spark.read().parquet(dir).count();
      }
      Configuration hadoop = spark.sparkContext().hadoopConfiguration();
      Path folder = new Path(dir);
      FileSystem fs = folder.getFileSystem(hadoop);
      fs.mkdirs(folder);
      // From the SparkConf, not spark.conf(): the session's SQL state is built on first use, which costs seconds
      // of class loading and compilation in a fresh JVM, and the stage's job never needs it otherwise.
      String codec = jsc.getConf().get("spark.sql.parquet.compression.codec", "snappy");
      Map<String, String> footer = Map.of("org.apache.spark.version", spark.version(),
          "org.apache.spark.sql.parquet.row.metadata", SCHEMA.json());
      SentenceFiles write = new SentenceFiles(source, subset, params, cellsBuilt,
          jsc.broadcast(new SerializableConfiguration(hadoop)), folder.toString(), codec, footer);

      List<FutureAction<List<WrittenFile>>> jobs = new ArrayList<>();
      List<WrittenFile> written = new ArrayList<>();
      try {
        int next = 0;
        while (next < ranges.count()) {
          List<BuildTask> batch = new ArrayList<>();
          do {
            batch.add(new BuildTask(next, ranges.start(next), ranges.end(next), startState(next), null));
            next++;
          } while (next < ranges.count() && (running == null || running.startKnown(next)));
          LOG.info("sentences: building ranges {} to {} of {}{}", batch.get(0).partition(), next - 1,
              ranges.count(), next < ranges.count() ? " (the tie-break pre-pass is still walking)" : "");
          jobs.add(new TaskListRdd<>(spark.sparkContext(), batch, write, WrittenFile.class).collectAsync());
        }
        for (FutureAction<List<WrittenFile>> job : jobs) {
          written.addAll(TaskListRdd.await(job));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        jobs.forEach(FutureAction::cancel);
        throw new IOException("sentences: interrupted while writing " + dir, e);
      } catch (ExecutionException e) {
        jobs.forEach(FutureAction::cancel);
        if (e.getCause() instanceof RuntimeException r) {
          throw r;
        }
        throw new IOException(e.getCause());
      } catch (IOException | RuntimeException e) {
        jobs.forEach(FutureAction::cancel);
        throw e;
      }
      checkEndStates(written);

      Set<String> keep = new HashSet<>();
      long rows = 0;
      for (WrittenFile w : written) {
        keep.add(w.name());
        rows += w.rows();
      }
      for (FileStatus f : fs.listStatus(folder)) {
        String name = f.getPath().getName();
        String data = name.startsWith(".") && name.endsWith(".crc") ? name.substring(1, name.length() - 4) : name;
        if (!keep.contains(data)) {
          LOG.info("sentences: deleting {}, left by a failed task attempt", f.getPath());
          fs.delete(f.getPath(), true);
        }
      }
      return rows;
    }

    private NumpyRandomState.State startState(int partition) throws IOException {
      if (running != null) {
        return running.startOf(partition);
      }
      return checkpoints == null ? null : checkpoints.startStates().get(partition);
    }

    /** The state each range ended at must be the next range's start: the draws the pre-pass counted. */
    private void checkEndStates(List<WrittenFile> written) {
      TieBreakPrepass.Checkpoints c = checkpoints();
      if (c == null) {
        return;
      }
      for (WrittenFile w : written) {
        if (!c.endOf(w.partition()).equals(w.endState())) {
          throw new IllegalStateException(String.format("atlas %s rows [%d, %d): building took other tie-break "
              + "draws than the pre-pass counted; the reader's storedPerRow and read disagree on the stored "
              + "entries of these rows", atlas, ranges.start(w.partition()), ranges.end(w.partition())));
        }
      }
    }
  }

  /** The sentences of {@code source}'s atlas under {@code params}: {@link #plan}'s Dataset. */
  public static Dataset<Row> build(SparkSession spark, AtlasSource source, SentencesParams params) {
    return plan(spark, source, params).sentences();
  }

  /** Runs the counting passes and the pre-pass, and returns the (lazy) output with the counts. */
  public static Plan plan(SparkSession spark, AtlasSource source, SentencesParams params) {
    return plan(spark, source, params, null);
  }

  /**
   * As {@link #plan(SparkSession, AtlasSource, SentencesParams)}, counting each built cell into {@code cellsBuilt}
   * (for progress reports; null for none).
   */
  public static Plan plan(SparkSession spark, AtlasSource source, SentencesParams params, LongAccumulator cellsBuilt) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(params, "params");
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    try {
      AtlasMeta meta;
      try (AtlasReader reader = source.open()) {
        meta = reader.meta();
      }
      checkAtlas(meta, params);
      warnAboutRepeatedSymbols(meta, params);
      long cells = params.maxCells() > 0 ? Math.min(meta.nCells(), params.maxCells()) : meta.nCells();
      RowRanges ranges = new RowRanges(cells, params.rowsPerPartition());
      LOG.info("sentences: atlas {} has {} cells x {} genes; {} partitions of up to {} cells", meta.source(),
          meta.nCells(), meta.nGenes(), ranges.count(), params.rowsPerPartition());

      AtlasSubset subset = geneSubset(jsc, source, meta, ranges, params);
      TieBreakPrepass.Checkpoints checkpoints = null;
      TieBreakPrepass.Running running = null;
      long dropped = 0;
      if (params.ties() == TieOrder.C2S && subset.isEverything()) {
        // No filter: the draws follow from the stored counts alone, which the reader gives without the data. The
        // walk runs on its own thread, so that the first ranges are built (writeParquet) while it goes on.
        AtlasReader reader = source.open();
        running = TieBreakPrepass.start(params.seed(), ranges,
            p -> reader.storedPerRow(ranges.start(p), ranges.end(p)), () -> closeQuietly(reader));
        running.whenDone(SentencesJob::logPrepass);
      } else if (params.ties() == TieOrder.C2S || params.minGenesPerCell() > 0) {
        List<int[]> entries = rowEntriesOnExecutors(jsc, source, ranges, subset, params.rowsPerRead());
        if (params.ties() == TieOrder.C2S) {
          checkpoints = TieBreakPrepass.run(params.seed(), ranges, entries::get);
          dropped = checkpoints.droppedCells();
          logPrepass(checkpoints);
        } else {
          for (int[] rows : entries) {
            for (int n : rows) {
              dropped += n < 0 ? 1 : 0;
            }
          }
        }
      }
      long output = cells - dropped;
      LOG.info("sentences: {} input cells, {} filtered out, {} output rows; {} of {} genes kept", cells,
          dropped, output, subset.keptGeneCount(), meta.nGenes());
      if (output == 0) {
        LOG.warn("sentences: the filters drop every cell of {}", meta.source());
      }
      jsc.setJobDescription(String.format("sentences: %d cells of %s, top %d genes, ties %s", output,
          meta.source(), params.topK(), params.ties().configName()));
      return new Plan(spark, source, params, meta.source(), ranges, cells, dropped, meta.nGenes(), subset.keptGeneCount(),
          jsc.broadcast(subset), checkpoints, running, cellsBuilt);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void logPrepass(TieBreakPrepass.Checkpoints c) {
    LOG.info("sentences: tie-break pre-pass walked {} draws in {} s ({} draws/s)", c.draws(),
        String.format("%.3f", c.seconds()), String.format("%.3g", c.draws() / Math.max(c.seconds(), 1e-9)));
  }

  private static void closeQuietly(AtlasReader reader) {
    try {
      reader.close();
    } catch (IOException e) {
      LOG.warn("sentences: closing the atlas after the pre-pass: {}", e.toString());
    }
  }

  private static void checkAtlas(AtlasMeta meta, SentencesParams params) {
    if (meta.nCells() == 0) {
      throw new IllegalArgumentException(String.format("atlas %s has no cells; expected at least one",
          meta.source()));
    }
    if (meta.nGenes() == 0) {
      throw new IllegalArgumentException(String.format("atlas %s has no genes; expected at least one",
          meta.source()));
    }
    checkObsColumn(meta, "cell-type-column", params.cellTypeColumn());
    checkObsColumn(meta, "donor-column", params.donorColumn());
    checkObsColumn(meta, "tissue-column", params.tissueColumn());
  }

  private static void checkObsColumn(AtlasMeta meta, String key, String column) {
    if (!column.isEmpty() && !meta.obsColumns().contains(column)) {
      throw new IllegalArgumentException(String.format(
          "atlas %s has no obs column '%s' (sentences.%s); it has %s. Set sentences.%s to one of them, or to \"\" "
              + "to leave the column empty", meta.source(), column, key, meta.obsColumns(), key, key));
    }
  }

  /**
   * cell2sentence keys its vocabulary by upper-cased symbol, so a repeated symbol shortens its word list and
   * every later column is named by the wrong word. Here each column keeps its own symbol; say where the two
   * differ.
   */
  private static void warnAboutRepeatedSymbols(AtlasMeta meta, SentencesParams params) {
    Set<String> seen = new HashSet<>();
    int repeated = 0;
    String first = null;
    for (String symbol : meta.geneSymbols()) {
      String word = params.upperCase() ? symbol.toUpperCase(Locale.ROOT) : symbol;
      if (!seen.add(word)) {
        repeated++;
        first = first == null ? word : first;
      }
    }
    if (repeated > 0) {
      LOG.warn("sentences: atlas {} repeats {} gene symbols (first: {}); each column keeps its own symbol here, "
          + "where cell2sentence's vocabulary would collapse them and misname every later gene", meta.source(),
          repeated, first);
    }
  }

  /** Genes kept: the ribosomal/mitochondrial exclusion by name, then min-cells-per-gene over the whole atlas. */
  private static AtlasSubset geneSubset(JavaSparkContext jsc, AtlasSource source, AtlasMeta meta,
                                        RowRanges ranges, SentencesParams params) {
    int nGenes = meta.nGenes();
    boolean[] kept = new boolean[nGenes];
    Arrays.fill(kept, true);
    int byName = 0;
    if (params.excludeRiboMito()) {
      for (int g = 0; g < nGenes; g++) {
        if (RiboMitoGenes.matches(meta.geneSymbols().get(g))) {
          kept[g] = false;
          byName++;
        }
      }
      LOG.info("sentences: {} ribosomal/mitochondrial genes excluded (prefixes {})", byName,
          RiboMitoGenes.PREFIXES);
    }
    if (params.minCellsPerGene() > 0) {
      jsc.setJobDescription("sentences: counting the cells that express each gene");
      int[] cellsPerGene = jsc.parallelize(partitionIndices(ranges), ranges.count())
          .map(new CountCellsPerGene(source, ranges, params.rowsPerRead()))
          .treeReduce(SentencesJob::addInPlace);
      int rare = 0;
      for (int g = 0; g < nGenes; g++) {
        if (kept[g] && cellsPerGene[g] < params.minCellsPerGene()) {
          kept[g] = false;
          rare++;
        }
      }
      LOG.info("sentences: {} genes expressed in fewer than {} cells excluded", rare, params.minCellsPerGene());
    }
    return new AtlasSubset(nGenes, kept, params.minGenesPerCell());
  }

  private static int[] addInPlace(int[] a, int[] b) {
    for (int i = 0; i < a.length; i++) {
      a[i] += b[i];
    }
    return a;
  }

  private static List<Integer> partitionIndices(RowRanges ranges) {
    List<Integer> ps = new ArrayList<>(ranges.count());
    for (int p = 0; p < ranges.count(); p++) {
      ps.add(p);
    }
    return ps;
  }

  /** With filters the counts need the columns and values: one distributed pass, collected in partition order. */
  private static List<int[]> rowEntriesOnExecutors(JavaSparkContext jsc, AtlasSource source, RowRanges ranges,
                                                   AtlasSubset subset, int rowsPerRead) {
    jsc.setJobDescription("sentences: counting each cell's genes after the filters");
    Broadcast<AtlasSubset> b = jsc.broadcast(subset);
    return jsc.parallelize(partitionIndices(ranges), ranges.count())
        .map(new CountRowEntries(source, ranges, b, rowsPerRead))
        .collect();
  }

  /** Cells expressing each gene in one partition (a count per gene column). */
  private record CountCellsPerGene(AtlasSource source, RowRanges ranges, int rowsPerRead)
      implements Function<Integer, int[]> {
    @Override
    public int[] call(Integer partition) throws IOException {
      try (AtlasReader reader = source.open()) {
        AtlasMeta meta = reader.meta();
        int[] counts = new int[meta.nGenes()];
        for (long s = ranges.start(partition); s < ranges.end(partition); s += rowsPerRead) {
          long e = Math.min(ranges.end(partition), s + rowsPerRead);
          CellBlock block = BlockChecks.readChecked(reader, meta.source(), s, e);
          int[] ip = block.indptr();
          for (int r = 0; r < block.rows(); r++) {
            for (int k = ip[r]; k < ip[r + 1]; k++) {
              AtlasSubset.checkEntry(meta.source(), block.cellIds()[r], meta.geneSymbols(), block.indices()[k],
                  block.values()[k]);
              if (block.values()[k] > 0) {
                counts[block.indices()[k]]++;
              }
            }
          }
        }
        return counts;
      }
    }
  }

  /** Per row of one partition: its stored kept entries, or -1 when the subset drops the cell. */
  private record CountRowEntries(AtlasSource source, RowRanges ranges, Broadcast<AtlasSubset> subset,
                                 int rowsPerRead) implements Function<Integer, int[]> {
    @Override
    public int[] call(Integer partition) throws IOException {
      AtlasSubset sub = subset.value();
      long start = ranges.start(partition);
      int[] out = new int[(int) (ranges.end(partition) - start)];
      try (AtlasReader reader = source.open()) {
        AtlasMeta meta = reader.meta();
        for (long s = start; s < ranges.end(partition); s += rowsPerRead) {
          long e = Math.min(ranges.end(partition), s + rowsPerRead);
          CellBlock block = BlockChecks.readChecked(reader, meta.source(), s, e);
          int[] ip = block.indptr();
          for (int r = 0; r < block.rows(); r++) {
            out[(int) (s - start) + r] = sub.tieBreakEntries(meta.source(), block.cellIds()[r], meta.geneSymbols(),
                block.indices(), block.values(), ip[r], ip[r + 1]);
          }
        }
      }
      return out;
    }
  }


}
