package org.cellcircuits.sentences;

import com.google.gson.JsonObject;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.cellcircuits.sentences.AtlasFixtures.Csr;
import static org.cellcircuits.sentences.AtlasFixtures.path;

/**
 * The Parquet long-table reader against the h5ad reader on the same counts. pyarrow is not in Debian, so the
 * Parquet fixtures are written here, at test time, by Spark from the h5ad fixtures' expected matrices, as a
 * multi-part folder (cells keep their order across part files; genes come back sorted by symbol).
 */
class ParquetLongReaderTest {
  private static SparkSession spark;

  @TempDir
  static Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[1]").appName("ParquetLongReaderTest")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** One row per stored entry of the fixture (explicit zeros included), in cell order, over three part files. */
  static String writeLongTable(String fixture, String symbolColumn, DataType countType, String name)
      throws IOException {
    JsonObject exp = AtlasFixtures.expected(fixture);
    List<String> cells = AtlasFixtures.strings(exp.get("cell_ids"));
    List<String> genes = symbolColumn == null ? AtlasFixtures.strings(exp.get("genes"))
        : AtlasFixtures.strings(exp.getAsJsonObject("var_columns").get(symbolColumn));
    List<String> cellType = AtlasFixtures.strings(exp.getAsJsonObject("obs").get("cell_type"));
    JsonObject obs = exp.getAsJsonObject("obs");
    List<String> donor = obs.has("donor_id") ? AtlasFixtures.strings(obs.get("donor_id")) : null;
    Csr m = Csr.expected(exp, cells);
    List<Row> rows = new ArrayList<>();
    for (int r = 0; r < cells.size(); r++) {
      for (int k = m.indptr()[r]; k < m.indptr()[r + 1]; k++) {
        double v = m.values()[k];
        Object count = countType == DataTypes.LongType ? (Object) (long) v
            : countType == DataTypes.FloatType ? (Object) (float) v : (Object) v;
        rows.add(RowFactory.create(cells.get(r), genes.get(m.indices()[k]), count, cellType.get(r),
            donor == null ? null : donor.get(r)));
      }
    }
    StructType schema = new StructType().add("cell_id", DataTypes.StringType).add("gene", DataTypes.StringType)
        .add("count", countType).add("cell_type", DataTypes.StringType).add("donor_id", DataTypes.StringType);
    String out = tmp.resolve(name).toString();
    // three ordered parts: split the rows by position, not by hash, so part order = cell order
    int third = rows.size() / 3;
    spark.createDataFrame(rows.subList(0, third), schema).coalesce(1).write().parquet(out + "/p0");
    spark.createDataFrame(rows.subList(third, 2 * third), schema).coalesce(1).write().parquet(out + "/p1");
    spark.createDataFrame(rows.subList(2 * third, rows.size()), schema).coalesce(1).write().parquet(out + "/p2");
    java.nio.file.Files.createDirectories(Path.of(out, "table"));
    int part = 0;
    for (String p : List.of("p0", "p1", "p2")) {
      try (var files = java.nio.file.Files.list(Path.of(out, p))) {
        for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".parquet")).toList()) {
          java.nio.file.Files.move(f, Path.of(out, "table", String.format("part-%05d.parquet", part++)));
        }
      }
    }
    assertThat(spark.read().parquet(Path.of(out, "table").toString()).count()).isEqualTo(rows.size());
    return Path.of(out, "table").toString();
  }

  @Test
  void agreesWithTheH5adReaderWithGenesSortedBySymbol() throws IOException {
    for (Object[] c : new Object[][] {{"csr_f32", "feature_name", DataTypes.FloatType},
        {"int_counts", null, DataTypes.LongType}, {"ties", null, DataTypes.DoubleType}}) {
      String fixture = (String) c[0];
      String symbols = (String) c[1];
      String table = writeLongTable(fixture, symbols, (DataType) c[2], fixture + "_long");
      AtlasOptions options = H5adReaderTest.optionsFor(fixture).withObsColumns("cell_type",
          fixture.equals("ties") ? null : "donor_id", null);
      Csr h5ad;
      List<String> h5adGenes;
      try (H5adReader reader = H5adReader.open(path(fixture + ".h5ad"), options.withGeneSymbolColumn(symbols))) {
        h5ad = AtlasFixtures.readAll(reader);
        h5adGenes = reader.meta().geneSymbols();
      }
      AtlasSource source = AtlasReaders.source(table, options);
      assertThat(source).isInstanceOf(ParquetLongSource.class);
      try (AtlasReader reader = source.open()) {
        List<String> genes = reader.meta().geneSymbols();
        // a long table only knows the genes that have a stored entry somewhere
        List<String> stored = new ArrayList<>(new java.util.TreeSet<>(
            java.util.Arrays.stream(h5ad.indices()).mapToObj(h5adGenes::get).toList()));
        assertThat(genes).as(fixture + ": genes sorted by symbol").isEqualTo(stored);
        assertThat(reader.meta().obsColumns()).containsExactly("cell_type", "donor_id");
        Csr parquet = AtlasFixtures.readInRanges(reader, 0, 1, reader.meta().nCells() / 2, reader.meta().nCells());
        Csr want = h5ad.remapColumns(h5adGenes, genes);
        // cells without any stored entry have no row in a long table
        List<String> storedCells = new ArrayList<>();
        for (int r = 0; r < h5ad.cellIds().size(); r++) {
          if (h5ad.indptr()[r + 1] > h5ad.indptr()[r]) {
            storedCells.add(h5ad.cellIds().get(r));
          }
        }
        assertThat(parquet.cellIds()).as(fixture + ": cells in order of first appearance").isEqualTo(storedCells);
        assertThat(parquet.indices()).as(fixture).isEqualTo(want.indices());
        assertThat(parquet.values()).as(fixture).isEqualTo(want.values());
        assertThat(parquet.obs().get("cell_type")).as(fixture).isEqualTo(keepStored(h5ad, h5ad.obs().get("cell_type")));
      }
    }
  }

  private static List<String> keepStored(Csr m, List<String> perCell) {
    List<String> out = new ArrayList<>();
    for (int r = 0; r < m.cellIds().size(); r++) {
      if (m.indptr()[r + 1] > m.indptr()[r]) {
        out.add(perCell.get(r));
      }
    }
    return out;
  }

  @Test
  void badTablesAreRefusedByName() throws IOException {
    StructType schema = new StructType().add("cell_id", DataTypes.StringType).add("gene", DataTypes.StringType)
        .add("count", DataTypes.DoubleType).add("cell_type", DataTypes.StringType);
    String negative = tmp.resolve("negative.parquet").toString();
    spark.createDataFrame(List.of(RowFactory.create("c1", "CD3E", 2.0, "T"),
        RowFactory.create("c2", "VWF", -1.0, "EC")), schema).coalesce(1).write().parquet(negative);
    AtlasOptions options = AtlasOptions.defaults().withObsColumns("cell_type", null, null);
    assertThatThrownBy(() -> AtlasReaders.open(negative, options)).isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining(negative).hasMessageContaining("count")
        .hasMessageContaining("cell c2, gene VWF has count -1.0").hasMessageContaining("expected a finite count >= 0");

    String twice = tmp.resolve("twice.parquet").toString();
    spark.createDataFrame(List.of(RowFactory.create("c1", "CD3E", 2.0, "T"),
        RowFactory.create("c1", "CD3E", 1.0, "T")), schema).coalesce(1).write().parquet(twice);
    assertThatThrownBy(() -> AtlasReaders.open(twice, options)).isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining(twice).hasMessageContaining("cell c1 has gene CD3E on two rows");

    String conflicting = tmp.resolve("conflicting.parquet").toString();
    spark.createDataFrame(List.of(RowFactory.create("c1", "CD3E", 2.0, "T"),
        RowFactory.create("c1", "VWF", 1.0, "EC")), schema).coalesce(1).write().parquet(conflicting);
    assertThatThrownBy(() -> AtlasReaders.open(conflicting, options)).isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("cell_type").hasMessageContaining("cell c1 has both 'T' and 'EC'");

    assertThatThrownBy(() -> AtlasReaders.open(negative, AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class).hasMessageContaining("donor_id")
        .hasMessageContaining("obs column 'donor_id' does not exist")
        .hasMessageContaining("[cell_id, gene, count, cell_type]");
    assertThatThrownBy(() -> AtlasReaders.open(negative, options.withGeneSymbolColumn("feature_name")))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("gene symbol column 'feature_name' does not exist");
  }
}
