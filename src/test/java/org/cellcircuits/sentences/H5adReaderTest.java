package org.cellcircuits.sentences;

import com.google.gson.JsonObject;
import io.jhdf.HdfFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.cellcircuits.sentences.AtlasFixtures.Csr;
import static org.cellcircuits.sentences.AtlasFixtures.expected;
import static org.cellcircuits.sentences.AtlasFixtures.path;
import static org.cellcircuits.sentences.AtlasFixtures.strings;

/**
 * The h5ad reader returns exactly what anndata + scipy hold for each fixture (expected.json, made by
 * make_fixtures.py): CSR in file order with explicit zeros, dense and CSC in ascending columns, every dtype, the old
 * and new obs encodings, var symbol columns, raw/X; and any row range equals that slice of the full read.
 */
class H5adReaderTest {

  /** Obs columns each fixture has (the legacy one has no tissue, the ties one only a cell type). */
  static AtlasOptions optionsFor(String fixture) {
    return switch (fixture) {
      case "ties" -> AtlasOptions.defaults().withObsColumns("cell_type", null, null);
      case "legacy_obs" -> AtlasOptions.defaults().withObsColumns("cell_type", "donor_id", null);
      default -> AtlasOptions.defaults();
    };
  }

  static H5adReader open(String fixture, AtlasOptions options) throws IOException {
    return H5adReader.open(path(fixture + ".h5ad"), options);
  }

  @ParameterizedTest
  @ValueSource(strings = {"csr_f32", "dense_f64", "csc_i64", "int_counts", "raw", "ties", "legacy_obs"})
  void fullReadEqualsWhatScipyHolds(String fixture) throws IOException {
    JsonObject exp = expected(fixture);
    AtlasOptions options = optionsFor(fixture);
    try (H5adReader reader = open(fixture, options)) {
      AtlasMeta meta = reader.meta();
      assertThat(meta.nCells()).isEqualTo(exp.get("n_cells").getAsLong());
      assertThat(meta.geneSymbols()).isEqualTo(strings(exp.get("genes")));
      assertThat(meta.obsColumns()).containsExactlyElementsOf(exp.getAsJsonObject("obs").keySet());

      Csr got = AtlasFixtures.readAll(reader);
      Csr want = Csr.expected(exp, strings(exp.get("cell_ids")));
      assertThat(got.cellIds()).isEqualTo(want.cellIds());
      assertThat(got.indptr()).as("indptr").isEqualTo(want.indptr());
      assertThat(got.indices()).as("indices in scipy's order").isEqualTo(want.indices());
      assertThat(got.values()).as("values").isEqualTo(want.values());
      for (String c : options.obsColumns()) {
        assertThat(got.obs().get(c)).as("obs column %s", c).isEqualTo(strings(exp.getAsJsonObject("obs").get(c)));
      }
    }
  }

  @Test
  void csrKeepsTheFileInRowOrderAndExplicitZeros() throws IOException {
    try (H5adReader reader = open("csr_f32", AtlasOptions.defaults())) {
      CellBlock rows = reader.read(0, 3);
      // the fixture stores row 0 with descending columns and row 1 with a trailing explicit zero
      int[] row0 = java.util.Arrays.copyOfRange(rows.indices(), rows.indptr()[0], rows.indptr()[1]);
      assertThat(row0).isSortedAccordingTo((a, b) -> Integer.compare(b, a));
      assertThat(rows.values()[rows.indptr()[2] - 1]).isEqualTo(0.0);
    }
  }

  @Test
  void cscKeepsItsExplicitZeroLikeScipy() throws IOException {
    JsonObject exp = expected("csc_i64");
    double[] want = AtlasFixtures.doubles(exp.getAsJsonObject("X").get("data"));
    assertThat(want).as("the fixture must hold an explicit zero for this test to mean anything").contains(0.0);
    try (H5adReader reader = open("csc_i64", AtlasOptions.defaults())) {
      assertThat(AtlasFixtures.readAll(reader).values()).containsExactly(want);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"csr_f32", "dense_f64", "csc_i64", "int_counts", "ties", "legacy_obs"})
  void anyRowRangeEqualsThatSliceOfTheFullRead(String fixture) throws IOException {
    try (H5adReader reader = open(fixture, optionsFor(fixture))) {
      long n = reader.meta().nCells();
      Csr full = AtlasFixtures.readAll(reader);
      List<long[]> splits = new ArrayList<>();
      splits.add(new long[] {0, 1, n - 1, n});          // first and last row alone
      splits.add(new long[] {0, n / 2, n / 2, n});      // an empty range in the middle
      Random rnd = new Random(fixture.hashCode());
      for (int t = 0; t < 5; t++) {
        TreeSet<Long> cuts = new TreeSet<>(List.of(0L, n));
        for (int k = 0; k < 1 + rnd.nextInt(6); k++) {
          cuts.add((long) rnd.nextInt((int) n + 1));
        }
        splits.add(cuts.stream().mapToLong(Long::longValue).toArray());
      }
      for (long[] cuts : splits) {
        Csr pieces = AtlasFixtures.readInRanges(reader, cuts);
        assertThat(pieces.cellIds()).isEqualTo(full.cellIds());
        assertThat(pieces.indptr()).isEqualTo(full.indptr());
        assertThat(pieces.indices()).isEqualTo(full.indices());
        assertThat(pieces.values()).isEqualTo(full.values());
        assertThat(pieces.obs()).isEqualTo(full.obs());
      }
      // a middle range on its own, and the stored counts the tie-break pre-pass uses
      long s = n / 3;
      long e = 2 * n / 3 + 1;
      CellBlock mid = reader.read(s, e);
      assertThat(mid.cellIds()).containsExactlyElementsOf(full.cellIds().subList((int) s, (int) e));
      int[] stored = reader.storedPerRow(s, e);
      for (int r = 0; r < stored.length; r++) {
        assertThat(stored[r]).isEqualTo(full.indptr()[(int) s + r + 1] - full.indptr()[(int) s + r]);
        assertThat(stored[r]).isEqualTo(mid.indptr()[r + 1] - mid.indptr()[r]);
      }
    }
  }

  @Test
  void geneSymbolsFromAVarColumn() throws IOException {
    for (String fixture : List.of("csr_f32", "legacy_obs", "raw")) {
      JsonObject exp = expected(fixture);
      try (H5adReader reader = open(fixture, optionsFor(fixture).withGeneSymbolColumn("feature_name"))) {
        assertThat(reader.meta().geneSymbols()).as(fixture)
            .isEqualTo(strings(exp.getAsJsonObject("var_columns").get("feature_name")))
            .contains("Malat1", "Xist");
      }
    }
  }

  @Test
  void rawXWithRawVar() throws IOException {
    JsonObject raw = expected("raw").getAsJsonObject("raw");
    AtlasOptions options = AtlasOptions.defaults().withUseRaw(true).withGeneSymbolColumn("feature_name");
    try (H5adReader reader = open("raw", options)) {
      assertThat(reader.meta().nGenes()).isEqualTo(raw.get("n_genes").getAsInt()).isEqualTo(25);
      assertThat(reader.meta().geneSymbols())
          .isEqualTo(strings(raw.getAsJsonObject("var_columns").get("feature_name")));
      Csr got = AtlasFixtures.readInRanges(reader, 0, 4, 11, 12);
      Csr want = Csr.expected(raw, got.cellIds());
      assertThat(got.indptr()).isEqualTo(want.indptr());
      assertThat(got.indices()).isEqualTo(want.indices());
      assertThat(got.values()).isEqualTo(want.values());
      assertThat(java.util.Arrays.stream(got.values())).allMatch(v -> v == Math.rint(v));
    }
    try (H5adReader reader = open("raw", AtlasOptions.defaults())) {
      assertThat(reader.meta().nGenes()).as("X keeps every other gene").isEqualTo(13);
    }
  }

  /** Every column kind in both encodings: categorical (with a missing value), string, int, float, bool. */
  @ParameterizedTest
  @ValueSource(strings = {"csr_f32", "legacy_obs"})
  void everyObsColumnReadsAsAnndataReadsIt(String fixture) throws Exception {
    JsonObject obs = expected(fixture).getAsJsonObject("obs");
    try (HdfFile hdf = new HdfFile(path(fixture + ".h5ad"))) {
      H5adFrame frame = new H5adFrame(hdf, fixture, "obs");
      assertThat(frame.columns()).containsExactlyElementsOf(obs.keySet());
      int n = (int) frame.rows();
      for (String c : frame.columns()) {
        assertThat(frame.column(c, 0, n)).as(c).containsExactlyElementsOf(strings(obs.get(c)));
        assertThat(frame.column(c, 3, 4)).as(c + " rows 3..6").containsExactlyElementsOf(
            strings(obs.get(c)).subList(3, 7));
      }
      assertThat(strings(obs.get("cell_type"))).as("fixture has a missing cell type").containsNull();
    }
  }

  @Test
  void anyObsColumnCanBeRequested() throws IOException {
    JsonObject obs = expected("csr_f32").getAsJsonObject("obs");
    try (H5adReader reader = open("csr_f32", AtlasOptions.defaults().withObsColumns("n_genes", "barcode",
        "is_doublet"))) {
      CellBlock b = reader.read(2, 9);
      assertThat(b.obs().keySet()).containsExactly("n_genes", "barcode", "is_doublet");
      for (Map.Entry<String, String[]> e : b.obs().entrySet()) {
        assertThat(e.getValue()).containsExactlyElementsOf(strings(obs.get(e.getKey())).subList(2, 9));
      }
    }
  }
}
