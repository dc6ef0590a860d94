package org.cellcircuits.sentences;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.cellcircuits.sentences.AtlasFixtures.path;

/**
 * Every kind of bad input ends in an {@link AtlasFormatException} whose message names the file, the field and
 * what was expected. The bad .h5ad files come from make_fixtures.py (written by anndata, then edited with h5py
 * where anndata would refuse); bad 10x folders are written here.
 */
class AtlasBadInputTest {
  @TempDir
  Path tmp;

  private static String bad(String name) {
    return path("bad/" + name).toString();
  }

  /** Opens and reads every row, as a stage would. */
  private static void readAll(String file, AtlasOptions options) throws IOException {
    try (AtlasReader reader = AtlasReaders.open(file, options)) {
      reader.storedPerRow(0, reader.meta().nCells());
      reader.read(0, reader.meta().nCells());
    }
  }

  @Test
  void missingFile() {
    String missing = tmp.resolve("nowhere/atlas.h5ad").toString();
    assertThatThrownBy(() -> AtlasReaders.open(missing, AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessage("atlas %s: file: does not exist; expected an atlas file or folder at this path", missing);
    // an executor opening a file that vanished after planning gets the same kind of message
    assertThatThrownBy(() -> new H5adSource(missing, AtlasOptions.defaults()).open())
        .isInstanceOf(AtlasFormatException.class).hasMessageContaining(missing).hasMessageContaining("does not exist");
  }

  @Test
  void fileThatIsNotHdf5() {
    assertThatThrownBy(() -> AtlasReaders.open(bad("not_hdf5.h5ad"), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageStartingWith("atlas " + bad("not_hdf5.h5ad") + ": file: is not an HDF5 file")
        .hasMessageEndingWith("expected an .h5ad (HDF5) file written by AnnData");
  }

  @Test
  void h5adWithoutX() {
    assertThatThrownBy(() -> AtlasReaders.open(bad("no_x.h5ad"), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageStartingWith("atlas " + bad("no_x.h5ad") + ": X: not found (top-level entries: ")
        .hasMessageContaining("obs").hasMessageContaining("var")
        .hasMessageEndingWith("expected the count matrix X as a CSR/CSC group or a 2-D dataset");
    assertThatThrownBy(() -> AtlasReaders.open(path("csr_f32.h5ad").toString(),
        AtlasOptions.defaults().withUseRaw(true)))
        .isInstanceOf(AtlasFormatException.class).hasMessageContaining("raw/X: not found")
        .hasMessageContaining("expected raw/X, because use_raw is set");
  }

  @Test
  void obsColumnNamedInConfigThatDoesNotExist() {
    String file = path("csr_f32.h5ad").toString();
    assertThatThrownBy(() -> AtlasReaders.open(file, AtlasOptions.defaults().withObsColumns("celltype", null, null)))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessage("atlas %s: obs/celltype: obs column 'celltype' does not exist; expected one of the obs columns "
            + "[cell_type, donor_id, tissue, n_genes, total, barcode, is_doublet]", file);
    String legacy = path("legacy_obs.h5ad").toString();
    assertThatThrownBy(() -> AtlasReaders.open(legacy, AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("obs/tissue: obs column 'tissue' does not exist")
        .hasMessageContaining("[cell_type, donor_id, barcode, total]");
    String mtx = path("mtx_plain").toString();
    assertThatThrownBy(() -> AtlasReaders.open(mtx, AtlasOptions.defaults().withObsColumns("cell_type", "donor",
        null)))
        .isInstanceOf(AtlasFormatException.class).hasMessageContaining("obs.csv")
        .hasMessageContaining("donor: obs column does not exist")
        .hasMessageContaining("one of the columns [cell_type, donor_id, tissue] (the first column, barcode, holds");
  }

  @Test
  void geneSymbolColumnMissing() {
    String file = path("csr_f32.h5ad").toString();
    assertThatThrownBy(() -> AtlasReaders.open(file, AtlasOptions.defaults().withGeneSymbolColumn("gene_symbols")))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessage("atlas %s: var/gene_symbols: gene symbol column 'gene_symbols' does not exist; expected one of "
            + "the var columns [feature_name, gene_length]", file);
    String mtx = path("mtx_gz").toString();
    assertThatThrownBy(() -> AtlasReaders.open(mtx, AtlasOptions.defaults().withGeneSymbolColumn("feature_types")))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("genes.tsv.gz: gene symbol column 'feature_types' does not exist")
        .hasMessageContaining("[gene_ids, gene_symbols]");
  }

  @Test
  void negativeCount() {
    assertThatThrownBy(() -> readAll(bad("negative.h5ad"), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessage("atlas %s: X data: cell cell_004 (row 4), gene FCGR3A (column 6) has count -2.0; expected a "
            + "finite count >= 0", bad("negative.h5ad"));
  }

  @Test
  void nanCount() {
    assertThatThrownBy(() -> readAll(bad("nan.h5ad"), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessage("atlas %s: X data: cell cell_009 (row 9), gene MS4A1 (column 2) has count NaN; expected a "
            + "finite count >= 0", bad("nan.h5ad"));
  }

  @Test
  void emptyAtlas() {
    assertThatThrownBy(() -> AtlasReaders.open(bad("no_cells.h5ad"), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessage("atlas %s: X: the atlas is empty: 0 cells x 25 genes; expected at least one cell and one gene",
            bad("no_cells.h5ad"));
    assertThatThrownBy(() -> AtlasReaders.open(bad("no_genes.h5ad"), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class).hasMessageContaining("12 cells x 0 genes");
  }

  @Test
  void offsetsNotMonotoneAndColumnsOutOfRange() {
    assertThatThrownBy(() -> readAll(bad("indptr_not_monotone.h5ad"), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageStartingWith("atlas " + bad("indptr_not_monotone.h5ad") + ": X/indptr: X/indptr[7] = ")
        .hasMessageContaining("so row 6 would end before it starts; expected non-decreasing offsets");
    assertThatThrownBy(() -> readAll(bad("index_out_of_range.h5ad"), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining(bad("index_out_of_range.h5ad"))
        .hasMessageContaining("X indices: cell cell_000 (row 0) stores gene column 28; expected a column in [0, 25)");
  }

  @Test
  void badTenXFolders() throws IOException {
    Path noBarcodes = folder("no_barcodes", "%%MatrixMarket matrix coordinate integer general\n2 1 1\n1 1 3\n",
        "G1\tA\nG2\tB\n", null);
    assertThatThrownBy(() -> AtlasReaders.open(noBarcodes.toString(), noObs()))
        .isInstanceOf(AtlasFormatException.class).hasMessageContaining(noBarcodes.toString())
        .hasMessageContaining("barcodes.tsv: not found (folder holds ").hasMessageContaining("matrix.mtx");

    Path array = folder("array", "%%MatrixMarket matrix array real general\n2 1\n1\n2\n", "G1\tA\nG2\tB\n", "c1\n");
    assertThatThrownBy(() -> AtlasReaders.open(array.toString(), noObs()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("matrix.mtx: header line is '%%MatrixMarket matrix array real general'")
        .hasMessageContaining("expected '%%MatrixMarket matrix coordinate integer|real general'");

    Path transposed = folder("transposed", "%%MatrixMarket matrix coordinate integer general\n1 2 1\n1 1 3\n",
        "G1\tA\nG2\tB\n", "c1\n");
    assertThatThrownBy(() -> AtlasReaders.open(transposed.toString(), noObs()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("declares 1 genes x 2 cells; expected 2 genes (features file lines) x 1 cells");

    Path negative = folder("negative", "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 3\n2 2 -1.5\n",
        "G1\tA\nG2\tB\n", "c1\nc2\n");
    assertThatThrownBy(() -> AtlasReaders.open(negative.toString(), noObs()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessage("atlas %s: matrix.mtx: line 4: cell c2, gene B has count -1.5; expected a finite count >= 0",
            negative);

    Path outOfRange = folder("range", "%%MatrixMarket matrix coordinate integer general\n2 1 1\n3 1 3\n",
        "G1\tA\nG2\tB\n", "c1\n");
    assertThatThrownBy(() -> AtlasReaders.open(outOfRange.toString(), noObs()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("line 3 has gene number 3; expected a 1-based gene number in [1, 2]");

    Path twice = folder("twice", "%%MatrixMarket matrix coordinate integer general\n2 1 2\n2 1 3\n2 1 1\n",
        "G1\tA\nG2\tB\n", "c1\n");
    assertThatThrownBy(() -> AtlasReaders.open(twice.toString(), noObs()))
        .isInstanceOf(AtlasFormatException.class).hasMessageContaining("cell c1, gene B is written twice");

    Path noCells = folder("no_cells", "%%MatrixMarket matrix coordinate integer general\n2 0 0\n",
        "G1\tA\nG2\tB\n", "");
    assertThatThrownBy(() -> AtlasReaders.open(noCells.toString(), noObs()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessage("atlas %s: matrix.mtx: the atlas has 0 cells and 2 genes; expected at least one cell and one gene",
            noCells);

    Path noCsv = folder("no_csv", "%%MatrixMarket matrix coordinate integer general\n2 1 1\n2 1 3\n",
        "G1\tA\nG2\tB\n", "c1\n");
    assertThatThrownBy(() -> AtlasReaders.open(noCsv.toString(), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("the folder has no obs.csv and no obs CSV is configured");
    try (AtlasReader ok = AtlasReaders.open(noCsv.toString(), noObs())) {
      assertThat(ok.read(0, 1).values()).containsExactly(3.0);
    }

    Files.writeString(noCsv.resolve("obs.csv"), "barcode,cell_type\nAAAC-1,T cell\n");
    assertThatThrownBy(() -> AtlasReaders.open(noCsv.toString(),
        AtlasOptions.defaults().withObsColumns("cell_type", null, null)))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("barcode: none of its 1 values is a barcode of the matrix (first barcode: c1)");
  }

  @Test
  void pathOfNoKnownFormat() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("plain_folder"));
    Files.writeString(dir.resolve("counts.csv"), "a,b\n");
    assertThatThrownBy(() -> AtlasReaders.source(dir.toString(), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class)
        .hasMessageContaining("folder: holds neither matrix.mtx[.gz] nor .parquet files (it holds [counts.csv])");
    Path h5 = Files.writeString(tmp.resolve("filtered_feature_bc_matrix.h5"), "x");
    assertThatThrownBy(() -> AtlasReaders.source(h5.toString(), AtlasOptions.defaults()))
        .isInstanceOf(AtlasFormatException.class).hasMessageContaining("is a 10x HDF5 (.h5) file, which is not read");
  }

  private static AtlasOptions noObs() {
    return AtlasOptions.defaults().withObsColumns(null, null, null);
  }

  private Path folder(String name, String matrix, String genes, String barcodes) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve(name));
    Files.writeString(dir.resolve("matrix.mtx"), matrix);
    Files.writeString(dir.resolve("genes.tsv"), genes);
    if (barcodes != null) {
      Files.writeString(dir.resolve("barcodes.tsv"), barcodes);
    }
    return dir;
  }
}
