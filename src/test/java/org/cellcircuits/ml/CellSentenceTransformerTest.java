package org.cellcircuits.ml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.cellcircuits.sentences.AtlasOptions;
import org.cellcircuits.sentences.AtlasReaders;
import org.cellcircuits.sentences.AtlasSource;
import org.cellcircuits.sentences.SentencesJob;
import org.cellcircuits.sentences.SentencesParams;
import org.cellcircuits.sentences.TieOrder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transformer against the {@code sentences} stage on the shipped demo atlas (its first 300 cells, read by
 * {@link AtlasVectors} as a notebook would), row for row;
 * MLlib-style errors for bad params and columns; save/load round trips, alone, in a Pipeline, and from a folder an
 * earlier build saved.
 */
class CellSentenceTransformerTest {
  private static final String DEMO = "demo/heart_demo.h5ad";
  private static final int CELLS = 300;
  private static SparkSession spark;
  private static Dataset<Row> cells;
  private static String[] genes;

  @BeforeAll
  static void start() throws IOException {
    spark = SparkSession.builder().master("local[2]").appName("CellSentenceTransformerTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "3").getOrCreate();
    genes = AtlasVectors.geneNames(DEMO);
    // Shuffled over 4 partitions: the transformer must not depend on the input's order.
    cells = AtlasVectors.read(spark, DEMO, CELLS, 4);
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private static List<Row> stage(TieOrder ties) throws IOException {
    AtlasSource source = AtlasReaders.source(DEMO, AtlasOptions.defaults());
    SentencesParams params = SentencesParams.builder().topK(64).ties(ties).maxCells(CELLS).rowsPerPartition(70)
        .build();
    return byRow(SentencesJob.plan(spark, source, params).sentences());
  }

  private static List<Row> byRow(Dataset<Row> df) {
    return df.collectAsList().stream()
        .sorted(Comparator.comparingLong(r -> r.getLong(r.fieldIndex("atlas_row")))).toList();
  }

  private static void assertSameAsStage(List<Row> actual, List<Row> expected, String what) {
    assertThat(actual).as(what).hasSize(expected.size());
    for (int i = 0; i < expected.size(); i++) {
      Row a = actual.get(i);
      Row e = expected.get(i);
      String row = what + ", atlas row " + i;
      assertThat(a.getLong(a.fieldIndex("atlas_row"))).as(row).isEqualTo(e.getLong(e.fieldIndex("atlas_row")));
      assertThat(a.getString(a.fieldIndex("cell_id"))).as(row).isEqualTo(e.getString(e.fieldIndex("cell_id")));
      assertThat(a.getString(a.fieldIndex("sentence"))).as(row).isEqualTo(e.getString(e.fieldIndex("sentence")));
      assertThat(a.<String>getList(a.fieldIndex("genes"))).as(row)
          .isEqualTo(e.<String>getList(e.fieldIndex("genes")));
      assertThat(a.getString(a.fieldIndex("prompt"))).as(row).isEqualTo(e.getString(e.fieldIndex("prompt")));
      assertThat(a.getInt(a.fieldIndex("n_expressed"))).as(row).isEqualTo(e.getInt(e.fieldIndex("n_expressed")));
    }
  }

  private static CellSentenceTransformer demoTransformer() {
    return new CellSentenceTransformer().setGeneNames(genes).setTopK(64);
  }

  @Test
  void c2sSentencesEqualTheStagesRowForRow() throws IOException {
    List<Row> expected = stage(TieOrder.C2S);
    // Blocks of 64 rows (5 blocks over 3 partitions) and one block: the same sentences.
    for (int blockRows : new int[] {64, 4096}) {
      List<Row> actual = byRow(demoTransformer().setTieBreakRangeRows(blockRows).transform(cells));
      assertSameAsStage(actual, expected, "c2s, blocks of " + blockRows);
    }
  }

  @Test
  void geneOrderSentencesEqualTheStagesRowForRow() throws IOException {
    // atlas_row is only carried along here: gene-order reads no row index.
    List<Row> actual = byRow(demoTransformer().setTies("gene-order").setRowIndexCol("none").transform(cells));
    assertSameAsStage(actual, stage(TieOrder.GENE_ORDER), "gene-order");
  }

  @Test
  void denseVectorsStoreTheirNonZeroEntries() {
    StructType schema = new StructType().add("atlas_row", DataTypes.LongType)
        .add("expression", SQLDataTypes.VectorType());
    List<Row> rows = List.of(RowFactory.create(0L, Vectors.dense(0, 3, 1, 3)),
        RowFactory.create(1L, Vectors.sparse(4, new int[] {0, 1, 2, 3}, new double[] {0, 3, 1, 3})));
    CellSentenceTransformer t = new CellSentenceTransformer()
        .setGeneNames(new String[] {"a", "b", "c", "d"}).setTopK(3).setTies("gene-order");
    List<Row> out = byRow(t.transform(spark.createDataFrame(rows, schema)));
    // Ties by gene column; the dense row has no stored zero, the sparse one keeps its stored zero last.
    assertThat(out.get(0).getString(out.get(0).fieldIndex("sentence"))).isEqualTo("B D C");
    assertThat(out.get(1).getString(out.get(1).fieldIndex("sentence"))).isEqualTo("B D C");
    assertThat(out.get(0).getString(out.get(0).fieldIndex("prompt"))).startsWith(
        "The following is a list of 3 gene names ordered by descending expression level in a Homo sapiens cell.");
    assertThat(out.get(0).getInt(out.get(0).fieldIndex("n_expressed"))).isEqualTo(3);
  }

  @Test
  void badParamsAndColumnsNameTheParamOrColumn() {
    CellSentenceTransformer t = demoTransformer();
    assertThatThrownBy(() -> t.setTopK(-1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter topK given invalid value -1");
    assertThatThrownBy(() -> t.setTies("random")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter ties given invalid value random");
    assertThatThrownBy(() -> t.setSeed(-5)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter seed given invalid value -5");
    assertThatThrownBy(() -> t.setTemplate("no sentence here")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter template given invalid value");
    assertThatThrownBy(() -> demoTransformer().setInputCol("counts").transform(cells))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("inputCol: column 'counts' does not exist");
    assertThatThrownBy(() -> demoTransformer().setInputCol("cell_id").transform(cells))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("inputCol: column 'cell_id' must be of type");
    assertThatThrownBy(() -> demoTransformer().transform(cells.drop("atlas_row")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("rowIndexCol: column 'atlas_row' does not exist");
    assertThatThrownBy(() -> demoTransformer().setSentenceCol("cell_id").transform(cells))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("sentenceCol: output column 'cell_id' already exists");
    assertThatThrownBy(() -> new CellSentenceTransformer().transform(cells))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("parameter geneNames is not set");
    assertThatThrownBy(() -> demoTransformer().transform(cells.where("atlas_row <> 7")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("rowIndexCol: column 'atlas_row' must number the 299 cells 0..298");
    assertThatThrownBy(() -> demoTransformer().setGeneNames(new String[] {"A"}).setTies("gene-order")
        .transform(cells).collectAsList())
        .hasStackTraceContaining("has a vector of size " + genes.length + "; geneNames has 1 names");
  }

  @Test
  void saveLoadAloneAndInAPipelineGivesTheSameOutput(@TempDir Path dir) throws IOException {
    CellSentenceTransformer t = demoTransformer().setTieBreakRangeRows(100).setOrganism("Mus musculus");
    List<Row> before = byRow(t.transform(cells));
    t.save(dir.resolve("t").toString());
    CellSentenceTransformer loaded = CellSentenceTransformer.load(dir.resolve("t").toString());
    assertThat(loaded.uid()).isEqualTo(t.uid());
    assertThat(loaded.getOrganism()).isEqualTo("Mus musculus");
    assertThat(loaded.getGeneNames()).containsExactly(genes);
    assertThat(byRow(loaded.transform(cells))).isEqualTo(before);

    PipelineModel model = new Pipeline().setStages(new PipelineStage[] {t}).fit(cells);
    model.save(dir.resolve("pipeline").toString());
    PipelineModel back = PipelineModel.load(dir.resolve("pipeline").toString());
    assertThat(byRow(back.transform(cells))).isEqualTo(before);
  }

  /** Saved by the first build with this class (src/test/resources/ml/cell-sentence-transformer-0.1.0). */
  @Test
  void loadsATransformerSavedByAnEarlierBuild() {
    String path = "src/test/resources/ml/cell-sentence-transformer-0.1.0";
    CellSentenceTransformer t = CellSentenceTransformer.load(path);
    assertThat(t.getGeneNames()).containsExactly("CD3E", "ACTB", "GAPDH", "MS4A1");
    assertThat(t.getTopK()).isEqualTo(3);
    assertThat(t.getTies()).isEqualTo("gene-order");
    assertThat(t.getOrganism()).isEqualTo("Homo sapiens");
    StructType schema = new StructType().add("expression", SQLDataTypes.VectorType());
    List<Row> out = t.transform(spark.createDataFrame(
        List.of(RowFactory.create(Vectors.sparse(4, new int[] {0, 1, 3}, new double[] {2, 5, 2}))), schema))
        .collectAsList();
    assertThat(out.get(0).getString(out.get(0).fieldIndex("sentence"))).isEqualTo("ACTB CD3E MS4A1");
  }

  /** Writes the fixture of {@link #loadsATransformerSavedByAnEarlierBuild}: {@code -Dml.writeFixtures=true}. */
  @Test
  @EnabledIfSystemProperty(named = "ml.writeFixtures", matches = "true")
  void writeFixture() throws IOException {
    new CellSentenceTransformer().setGeneNames(new String[] {"CD3E", "ACTB", "GAPDH", "MS4A1"}).setTopK(3)
        .setTies("gene-order").write().overwrite().save("src/test/resources/ml/cell-sentence-transformer-0.1.0");
  }
}
