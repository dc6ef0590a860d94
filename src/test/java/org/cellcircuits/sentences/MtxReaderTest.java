package org.cellcircuits.sentences;

import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.cellcircuits.sentences.AtlasFixtures.Csr;
import static org.cellcircuits.sentences.AtlasFixtures.expected;
import static org.cellcircuits.sentences.AtlasFixtures.path;
import static org.cellcircuits.sentences.AtlasFixtures.strings;

/**
 * The 10x reader returns what scanpy's read_10x_mtx + csr_matrix hold (expected.json made with scipy.io.mmread),
 * plain and gzipped, v2 genes.tsv and v3 features.tsv, with the obs CSV joined by barcode; and it agrees with the
 * h5ad reader on the same counts.
 */
class MtxReaderTest {

  static AtlasReader open(String fixture, AtlasOptions options) throws IOException {
    return MtxReader.open(path(fixture).toString(), options);
  }

  @ParameterizedTest
  @ValueSource(strings = {"mtx_plain", "mtx_gz"})
  void readsWhatScanpyHolds(String fixture) throws IOException {
    JsonObject exp = expected(fixture);
    try (AtlasReader reader = open(fixture, AtlasOptions.defaults())) {
      assertThat(reader.meta().geneSymbols()).isEqualTo(strings(exp.get("genes")));
      assertThat(reader.meta().obsColumns()).containsExactly("cell_type", "donor_id", "tissue");
      Csr got = AtlasFixtures.readInRanges(reader, 0, 5, 6, 11, 12);
      Csr want = Csr.expected(exp, strings(exp.get("cell_ids")));
      assertThat(got.cellIds()).isEqualTo(want.cellIds());
      assertThat(got.indptr()).isEqualTo(want.indptr());
      assertThat(got.indices()).isEqualTo(want.indices());
      assertThat(got.values()).isEqualTo(want.values());
      for (String c : List.of("cell_type", "donor_id", "tissue")) {
        assertThat(got.obs().get(c)).as(c).isEqualTo(strings(exp.getAsJsonObject("obs").get(c)));
      }
      assertThat(got.obs().get("tissue")).as("a quoted CSV field with a comma").contains("heart, left ventricle");
      assertThat(got.obs().get("cell_type")).as("an empty CSV field is missing").containsNull();
      int[] stored = reader.storedPerRow(3, 9);
      for (int r = 0; r < stored.length; r++) {
        assertThat(stored[r]).isEqualTo(want.indptr()[r + 4] - want.indptr()[r + 3]);
      }
    }
  }

  @Test
  void geneIdsInsteadOfSymbols() throws IOException {
    JsonObject exp = expected("mtx_plain");
    try (AtlasReader reader = open("mtx_plain", AtlasOptions.defaults().withGeneSymbolColumn("gene_ids"))) {
      assertThat(reader.meta().geneSymbols()).isEqualTo(strings(exp.getAsJsonObject("var_columns").get("gene_ids")));
    }
  }

  /** Same counts, two formats: the 10x folders were written from the h5ad fixtures' matrices. */
  @Test
  void agreesWithTheH5adReaderOnTheSameCounts() throws IOException {
    for (String[] pair : new String[][] {{"mtx_plain", "int_counts"}, {"mtx_gz", "csr_f32"}}) {
      Csr mtx;
      Csr h5ad;
      try (AtlasReader reader = open(pair[0], AtlasOptions.defaults())) {
        mtx = AtlasFixtures.readAll(reader);
      }
      AtlasOptions symbols = pair[1].equals("csr_f32") ? AtlasOptions.defaults().withGeneSymbolColumn("feature_name")
          : AtlasOptions.defaults();
      try (H5adReader reader = H5adReader.open(path(pair[1] + ".h5ad"), symbols)) {
        h5ad = AtlasFixtures.readAll(reader).canonical();
      }
      assertThat(mtx.cellIds()).isEqualTo(h5ad.cellIds());
      assertThat(mtx.indptr()).as(pair[0]).isEqualTo(h5ad.indptr());
      assertThat(mtx.indices()).as(pair[0]).isEqualTo(h5ad.indices());
      assertThat(mtx.values()).as(pair[0]).isEqualTo(h5ad.values());
      assertThat(mtx.obs().get("cell_type")).isEqualTo(h5ad.obs().get("cell_type"));
      assertThat(mtx.obs().get("donor_id")).isEqualTo(h5ad.obs().get("donor_id"));
    }
  }

  @Test
  void csvParsesQuotesAndLineBreaks() throws IOException {
    CsvTable t = CsvTable.parse("barcode,note,n\r\nA,\"x, \"\"y\"\"\",1\nB,\"two\nlines\",\n\nC,,3", "t.csv");
    assertThat(t.header()).containsExactly("barcode", "note", "n");
    assertThat(t.rows()).hasSize(3);
    assertThat(t.rows().get(0)).containsExactly("A", "x, \"y\"", "1");
    assertThat(t.rows().get(1)).containsExactly("B", "two\nlines", null);
    assertThat(t.rows().get(2)).containsExactly("C", null, "3");
  }
}
