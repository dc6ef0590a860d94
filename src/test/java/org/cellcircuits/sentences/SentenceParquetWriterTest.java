package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.column.Encoding;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.internal.column.columnindex.ColumnIndex;
import org.apache.parquet.internal.column.columnindex.OffsetIndex;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SentencesJob.Plan#writeParquet}, which writes the Parquet files itself, against the same plan's rows
 * through Spark ({@code sentences()}): equal in every column for every row, over several files and row groups,
 * with missing obs values, empty sentences and stored zeros; readable by plain parquet-hadoop too; leftovers of
 * failed attempts removed.
 */
class SentenceParquetWriterTest {
  private static SparkSession spark;

  @TempDir
  Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("SentenceParquetWriterTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @Test
  void writtenRowsEqualTheDatasetRowsInEveryColumn() throws IOException {
    InMemoryAtlas atlas = C2sFixture.atlas();
    for (TieOrder ties : TieOrder.values()) {
      SentencesParams params = SentencesParams.builder().ties(ties).topK(12).rowsPerPartition(70).rowsPerRead(9)
          .build();
      SentencesJob.Plan plan = SentencesJob.plan(spark, atlas.source(), params);
      String dir = tmp.resolve("out-" + ties.configName()).toString();
      assertThat(plan.writeParquet(dir)).isEqualTo(240);
      assertThat(parquetFiles(dir)).hasSize(4); // 240 cells in ranges of 70
      assertSameRows(spark.read().parquet(dir).collectAsList(), plan.sentences().collectAsList(), ties.configName());
    }
  }

  @Test
  void filteredCellsNullObsAndEmptySentencesRoundTrip() throws IOException {
    // Cell a: nothing stored (an empty sentence); b: two stored zeros only; c: ties and a stored zero; d: one
    // gene. Donor is missing for b and c, the cell type for c.
    InMemoryAtlas atlas = new InMemoryAtlas("edge.h5ad", new String[] {"a", "b", "c", "d"},
        List.of("ACTB", "cd3e", "Gapdh", "MT-CO1"),
        Map.of("cell_type", new String[] {"x", "y", null, "z"}, "donor_id", new String[] {"d1", null, null, "d2"},
            "tissue", new String[] {"t", "t", "t", "t"}),
        new long[] {0, 0, 2, 6, 7}, new int[] {0, 2, 0, 1, 2, 3, 1}, new double[] {0, 0, 2, 2, 0, 2, 5});
    for (boolean dropZeros : new boolean[] {false, true}) {
      SentencesParams params = SentencesParams.builder().dropExplicitZeros(dropZeros).rowsPerPartition(3).build();
      SentencesJob.Plan plan = SentencesJob.plan(spark, atlas.source(), params);
      String dir = tmp.resolve("edge-" + dropZeros).toString();
      assertThat(plan.writeParquet(dir)).isEqualTo(4);
      List<Row> rows = sorted(spark.read().parquet(dir).collectAsList());
      assertSameRows(rows, plan.sentences().collectAsList(), "dropZeros " + dropZeros);
      assertThat(rows.get(0).<String>getList(rows.get(0).fieldIndex("genes"))).isEmpty();
      assertThat(rows.get(0).getString(rows.get(0).fieldIndex("sentence"))).isEmpty();
      assertThat(rows.get(1).isNullAt(rows.get(1).fieldIndex("donor"))).isTrue();
      assertThat(rows.get(2).isNullAt(rows.get(2).fieldIndex("cell_type"))).isTrue();
      assertThat(rows.get(3).<String>getList(rows.get(3).fieldIndex("genes"))).containsExactly("CD3E");
    }
  }

  @Test
  void manyRowGroupsAndAPlainParquetReaderSeeTheSameRows() throws IOException {
    InMemoryAtlas atlas = C2sFixture.atlas();
    SentencesParams params = SentencesParams.builder().topK(30).rowsPerPartition(240).build();
    SentencesJob.Plan plan = SentencesJob.plan(spark, atlas.source(), params);
    String dir = tmp.resolve("groups").toString();
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    String before = hadoop.get("parquet.block.size");
    hadoop.setLong("parquet.block.size", 8 * 1024); // a row group every few dozen cells
    try {
      plan.writeParquet(dir);
    } finally {
      if (before == null) {
        hadoop.unset("parquet.block.size");
      } else {
        hadoop.set("parquet.block.size", before);
      }
    }
    List<Path> files = parquetFiles(dir);
    assertThat(files).hasSize(1);
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(files.get(0).toUri());
    ParquetMetadata footer;
    try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(file, new Configuration()))) {
      footer = reader.getFooter();
    }
    assertThat(footer.getBlocks().size()).as("row groups").isGreaterThan(3);
    assertThat(footer.getFileMetaData().getKeyValueMetaData())
        .containsEntry("org.apache.spark.sql.parquet.row.metadata", SentencesJob.SCHEMA.json());
    assertThat(spark.read().parquet(dir).schema().fieldNames()).containsExactly(SentencesJob.SCHEMA.fieldNames());
    assertSameRows(spark.read().parquet(dir).collectAsList(), plan.sentences().collectAsList(), "row groups");

    // parquet-hadoop's own record reader, no Spark: sentences and gene lists agree row by row.
    List<Row> expected = sorted(plan.sentences().collectAsList());
    int r = 0;
    try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), file).build()) {
      for (Group g = reader.read(); g != null; g = reader.read(), r++) {
        Row e = expected.get(r);
        assertThat(g.getLong("atlas_row", 0)).isEqualTo(e.getLong(e.fieldIndex("atlas_row")));
        Group genes = g.getGroup("genes", 0);
        List<String> words = new ArrayList<>();
        for (int i = 0; i < genes.getFieldRepetitionCount("list"); i++) {
          words.add(genes.getGroup("list", i).getString("element", 0));
        }
        assertThat(words).isEqualTo(e.<String>getList(e.fieldIndex("genes")));
        assertThat(g.getString("sentence", 0)).isEqualTo(e.getString(e.fieldIndex("sentence")));
      }
    }
    assertThat(r).isEqualTo(240);
  }

  @Test
  void filesLeftByFailedAttemptsAreDeleted() throws IOException {
    InMemoryAtlas atlas = C2sFixture.atlas();
    SentencesJob.Plan plan = SentencesJob.plan(spark, atlas.source(),
        SentencesParams.builder().rowsPerPartition(100).build());
    Path dir = tmp.resolve("leftovers");
    Files.createDirectories(dir);
    // What a killed attempt of range 1 leaves: a partial file and its checksum.
    Files.write(dir.resolve("part-00001-attempt-0.snappy.parquet"), new byte[] {'P', 'A', 'R', '1', 0});
    Files.write(dir.resolve(".part-00001-attempt-0.snappy.parquet.crc"), new byte[] {1});
    assertThat(plan.writeParquet(dir.toString())).isEqualTo(240);
    try (Stream<Path> listed = Files.list(dir)) {
      assertThat(listed.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".parquet")).sorted())
          .containsExactly("part-00000-attempt-0.snappy.parquet", "part-00001-attempt-0.snappy.parquet",
              "part-00002-attempt-0.snappy.parquet");
    }
    assertThat(spark.read().parquet(dir.toString()).count()).isEqualTo(240);
  }

  @Test
  void rangesBuiltWhileThePrepassStillWalksGiveTheSameRows() throws Exception {
    // The pre-pass cannot get past the first range's counts until a task has begun reading rows, so building
    // must start before the walk ends.
    InMemoryAtlas atlas = C2sFixture.atlas();
    FIRST_READ.set(new java.util.concurrent.CountDownLatch(1));
    AtlasSource slowCounts = new CountsAfterFirstRead(atlas.source());
    SentencesParams params = SentencesParams.builder().topK(20).rowsPerPartition(40).build();
    SentencesJob.Plan plan = SentencesJob.plan(spark, slowCounts, params);
    java.util.concurrent.atomic.AtomicInteger jobs = new java.util.concurrent.atomic.AtomicInteger();
    org.apache.spark.scheduler.SparkListener countJobs = new org.apache.spark.scheduler.SparkListener() {
      @Override
      public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart start) {
        jobs.incrementAndGet();
      }
    };
    spark.sparkContext().addSparkListener(countJobs);
    String dir = tmp.resolve("overlap").toString();
    try {
      assertThat(plan.writeParquet(dir)).isEqualTo(240);
      spark.sparkContext().listenerBus().waitUntilEmpty(); // job events reach listeners asynchronously
    } finally {
      spark.sparkContext().removeSparkListener(countJobs);
    }
    assertThat(jobs.get()).as("jobs submitted as start states became known").isGreaterThan(1);
    assertSameRows(spark.read().parquet(dir).collectAsList(),
        SentencesJob.plan(spark, atlas.source(), params).sentences().collectAsList(), "overlapped");
  }

  /** Released by the first row read of {@link CountsAfterFirstRead} (executors share this JVM in local mode). */
  private static final java.util.concurrent.atomic.AtomicReference<java.util.concurrent.CountDownLatch> FIRST_READ =
      new java.util.concurrent.atomic.AtomicReference<>();

  /** An atlas whose stored counts (what the pre-pass reads) wait until some task has read rows. */
  private record CountsAfterFirstRead(AtlasSource inner) implements AtlasSource {
    @Override
    public AtlasReader open() throws IOException {
      AtlasReader reader = inner.open();
      return new AtlasReader() {
        @Override
        public AtlasMeta meta() {
          return reader.meta();
        }

        @Override
        public int[] storedPerRow(long start, long end) throws IOException {
          try {
            if (!FIRST_READ.get().await(60, java.util.concurrent.TimeUnit.SECONDS)) {
              throw new IOException("no task read rows within 60 s");
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
          }
          return reader.storedPerRow(start, end);
        }

        @Override
        public CellBlock read(long start, long end) throws IOException {
          FIRST_READ.get().countDown();
          return reader.read(start, end);
        }

        @Override
        public void close() throws IOException {
          reader.close();
        }
      };
    }
  }

  @Test
  void aTaskThatFailsFailsTheWriteWithItsOwnMessage() {
    InMemoryAtlas negative = C2sFixture.atlas();
    int row = 170; // in the second of three ranges
    negative.values[(int) negative.indptr[row]] = -2;
    SentencesJob.Plan plan = SentencesJob.plan(spark, negative.source(),
        SentencesParams.builder().rowsPerPartition(100).build());
    assertThatThrownBy(() -> plan.writeParquet(tmp.resolve("negative").toString()))
        .hasStackTraceContaining("cell cell170 has count -2.0 for gene")
        .hasStackTraceContaining("Job aborted due to stage failure");
  }

  @Test
  void tieBreakDrawsOtherThanThePrepassCountedAreCaughtByTheDriver() {
    InMemoryAtlas atlas = C2sFixture.atlas();
    atlas.lieAboutStoredCountOfRows = new int[] {149}; // as in SentencesJobTest: the state at row 150 is off
    atlas.lieBy = 40;
    SentencesJob.Plan plan = SentencesJob.plan(spark, atlas.source(),
        SentencesParams.builder().rowsPerPartition(50).build());
    assertThatThrownBy(() -> plan.writeParquet(tmp.resolve("lie").toString()))
        .hasMessageContaining("rows [100, 150): building took other tie-break draws than the pre-pass counted");
  }

  @Test
  void genesPagesCarryTheStatisticsOfParquetsOwnWriter() throws IOException {
    InMemoryAtlas atlas = manyGenesAtlas(new SplittableRandom(11), 300);
    SentencesParams params = SentencesParams.builder().topK(40).rowsPerPartition(300).build();
    SentencesJob.Plan plan = SentencesJob.plan(spark, atlas.source(), params);
    String ours = tmp.resolve("stats-ours").toString();
    String spark = tmp.resolve("stats-spark").toString();
    Configuration hadoop = SentenceParquetWriterTest.spark.sparkContext().hadoopConfiguration();
    String before = hadoop.get("parquet.page.size");
    hadoop.setInt("parquet.page.size", 512); // a page every few dozen cells
    try {
      plan.writeParquet(ours);
      plan.sentences().coalesce(1).write().parquet(spark); // parquet-hadoop's own column writers
    } finally {
      if (before == null) {
        hadoop.unset("parquet.page.size");
      } else {
        hadoop.set("parquet.page.size", before);
      }
    }
    List<Row> rows = sorted(plan.sentences().collectAsList());
    assertSameRows(SentenceParquetWriterTest.spark.read().parquet(ours).collectAsList(), rows, "many pages");

    ColumnChunkMetaData oursGenes = genesChunk(parquetFiles(ours).get(0));
    ColumnChunkMetaData sparkGenes = genesChunk(parquetFiles(spark).get(0));
    assertThat(oursGenes.getStatistics()).as("column chunk statistics").isEqualTo(sparkGenes.getStatistics());
    assertThat(oursGenes.getStatistics().getNumNulls()).as("empty lists").isPositive();
    assertThat(oursGenes.getValueCount()).isEqualTo(sparkGenes.getValueCount());
    assertThat(oursGenes.getEncodings()).contains(Encoding.PLAIN_DICTIONARY);

    // Page by page: min and max in unsigned byte order ("ÄRZ1" after "ZYX9"), empty lists as nulls.
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(parquetFiles(ours).get(0).toUri());
    try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(file, new Configuration()))) {
      ColumnIndex index = reader.readColumnIndex(oursGenes);
      OffsetIndex offsets = reader.readOffsetIndex(oursGenes);
      assertThat(offsets.getPageCount()).as("pages").isGreaterThan(3);
      for (int page = 0; page < offsets.getPageCount(); page++) {
        int from = (int) offsets.getFirstRowIndex(page);
        int to = page + 1 < offsets.getPageCount() ? (int) offsets.getFirstRowIndex(page + 1) : rows.size();
        List<String> words = new ArrayList<>();
        long empty = 0;
        for (Row r : rows.subList(from, to)) {
          List<String> genes = r.getList(r.fieldIndex("genes"));
          words.addAll(genes);
          empty += genes.isEmpty() ? 1 : 0;
        }
        Comparator<String> unsigned = (a, b) -> Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8),
            b.getBytes(StandardCharsets.UTF_8));
        assertThat(index.getNullCounts().get(page)).as("page %d nulls", page).isEqualTo(empty);
        if (!words.isEmpty()) {
          assertThat(utf8(index.getMinValues().get(page))).as("page %d min", page)
              .isEqualTo(words.stream().min(unsigned).orElseThrow());
          assertThat(utf8(index.getMaxValues().get(page))).as("page %d max", page)
              .isEqualTo(words.stream().max(unsigned).orElseThrow());
        }
      }
    }
  }

  /** Cells of 0 to 60 genes out of 90, counts with many ties; symbols that sort differently as signed bytes. */
  private static InMemoryAtlas manyGenesAtlas(SplittableRandom random, int cells) {
    List<String> symbols = new ArrayList<>();
    for (int g = 0; g < 88; g++) {
      symbols.add("g" + g);
    }
    symbols.add("Ärz1");
    symbols.add("zyx9");
    String[] ids = new String[cells];
    String[] types = new String[cells];
    long[] indptr = new long[cells + 1];
    List<Integer> indices = new ArrayList<>();
    List<Double> values = new ArrayList<>();
    for (int r = 0; r < cells; r++) {
      ids[r] = "cell" + r;
      types[r] = "type" + r % 3;
      int stored = r % 17 == 0 ? 0 : random.nextInt(61);
      for (int g = 0; g < symbols.size() && stored > 0; g++) {
        if (random.nextInt(symbols.size() - g) < stored) {
          indices.add(g);
          values.add((double) (1 + random.nextInt(4)));
          stored--;
        }
      }
      indptr[r + 1] = indices.size();
    }
    return new InMemoryAtlas("many-genes.h5ad", ids, symbols, Map.of("cell_type", types, "donor_id", types,
        "tissue", types), indptr, indices.stream().mapToInt(Integer::intValue).toArray(),
        values.stream().mapToDouble(Double::doubleValue).toArray());
  }

  private static ColumnChunkMetaData genesChunk(Path file) throws IOException {
    ParquetMetadata footer;
    try (ParquetFileReader reader = ParquetFileReader.open(
        HadoopInputFile.fromPath(new org.apache.hadoop.fs.Path(file.toUri()), new Configuration()))) {
      footer = reader.getFooter();
    }
    assertThat(footer.getBlocks()).as("row groups of %s", file).hasSize(1);
    return footer.getBlocks().get(0).getColumns().stream()
        .filter(c -> c.getPath().toDotString().equals("genes.list.element")).findFirst().orElseThrow();
  }

  private static String utf8(java.nio.ByteBuffer bytes) {
    byte[] b = new byte[bytes.remaining()];
    bytes.duplicate().get(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  private static List<Path> parquetFiles(String dir) throws IOException {
    try (Stream<Path> files = Files.list(Path.of(dir))) {
      return files.filter(p -> p.getFileName().toString().endsWith(".parquet")).sorted().toList();
    }
  }

  private static void assertSameRows(List<Row> written, List<Row> expected, String what) {
    List<Row> a = sorted(written);
    List<Row> b = sorted(expected);
    assertThat(a).as(what).hasSize(b.size());
    for (int i = 0; i < a.size(); i++) {
      for (String field : SentencesJob.SCHEMA.fieldNames()) {
        int ia = a.get(i).fieldIndex(field);
        int ib = b.get(i).fieldIndex(field);
        Object x = field.equals("genes") ? a.get(i).getList(ia) : a.get(i).get(ia);
        Object y = field.equals("genes") ? b.get(i).getList(ib) : b.get(i).get(ib);
        assertThat(x).as("%s: row %d, %s", what, i, field).isEqualTo(y);
      }
    }
  }

  private static List<Row> sorted(List<Row> rows) {
    return rows.stream().sorted(Comparator.comparingLong(r -> r.getLong(r.fieldIndex("atlas_row")))).toList();
  }
}
