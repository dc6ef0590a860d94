package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Hand-worked cells: gene-order ranking, explicit zeros, filters, prompt text, bad entries. */
class CellSentenceBuilderTest {
  private static final AtlasMeta FOUR_GENES = new AtlasMeta("four.h5ad", 1, List.of("a1", "Bb", "CC", "dd"),
      List.of());

  /**
   * One cell stored out of column order with an explicit zero: dd=0, CC=2, a1=2, Bb=5. By value: Bb (5), then
   * a1 and CC tie at 2 and go by column (a1 is column 0), then the stored zero dd last.
   */
  private static final int[] COLS = {3, 2, 0, 1};
  private static final double[] VALS = {0, 2, 2, 5};

  @Test
  void geneOrderRanksByValueThenColumnAndKeepsExplicitZerosLast() {
    CellSentence s = builder(FOUR_GENES, AtlasSubset.all(4), 200, true, false).build("cell", COLS, VALS, 0, 4, null);
    assertThat(s.genes()).containsExactly("BB", "A1", "CC", "DD");
    assertThat(s.sentence()).isEqualTo("BB A1 CC DD");
    assertThat(s.nExpressed()).isEqualTo(3);
  }

  @Test
  void geneOrderVariants() {
    assertThat(builder(FOUR_GENES, AtlasSubset.all(4), 200, true, true).build("cell", COLS, VALS, 0, 4, null)
        .sentence()).isEqualTo("BB A1 CC");
    assertThat(builder(FOUR_GENES, AtlasSubset.all(4), 2, true, false).build("cell", COLS, VALS, 0, 4, null)
        .sentence()).isEqualTo("BB A1");
    assertThat(builder(FOUR_GENES, AtlasSubset.all(4), 1, false, false).build("cell", COLS, VALS, 0, 4, null)
        .sentence()).isEqualTo("Bb");
    assertThat(builder(FOUR_GENES, AtlasSubset.all(4), 200, false, false).build("cell", COLS, VALS, 0, 4, null)
        .sentence()).isEqualTo("Bb a1 CC dd");
    // An empty cell has an empty sentence, as in cell2sentence.
    CellSentence empty = builder(FOUR_GENES, AtlasSubset.all(4), 200, true, false).build("cell", COLS, VALS, 2, 2,
        null);
    assertThat(empty.sentence()).isEmpty();
    assertThat(empty.genes()).isEmpty();
    assertThat(empty.nExpressed()).isZero();
  }

  @Test
  void geneSubsetAndMinGenesPerCell() {
    // Without column 1 (Bb): a1, CC tie at 2, dd = 0; two expressed genes.
    AtlasSubset noBb = new AtlasSubset(4, new boolean[] {true, false, true, true}, 2);
    CellSentence s = builder(FOUR_GENES, noBb, 200, true, false).build("cell", COLS, VALS, 0, 4, null);
    assertThat(s.sentence()).isEqualTo("A1 CC DD");
    assertThat(s.nExpressed()).isEqualTo(2);
    // Needing three expressed kept genes drops the cell, and then it takes no draws.
    AtlasSubset needThree = new AtlasSubset(4, new boolean[] {true, false, true, true}, 3);
    CellSentenceBuilder c2s = new CellSentenceBuilder(FOUR_GENES, needThree, 200, TieOrder.C2S, true, false);
    NumpyRandomState rng = new NumpyRandomState(42);
    NumpyRandomState.State before = rng.state();
    assertThat(c2s.build("cell", COLS, VALS, 0, 4, rng)).isNull();
    assertThat(rng.state()).isEqualTo(before);
    assertThat(needThree.tieBreakEntries("four.h5ad", "cell", FOUR_GENES.geneSymbols(), COLS, VALS, 0, 4))
        .isEqualTo(-1);
    assertThat(noBb.tieBreakEntries("four.h5ad", "cell", FOUR_GENES.geneSymbols(), COLS, VALS, 0, 4))
        .as("the explicit zero still counts as a stored entry").isEqualTo(3);
  }

  @Test
  void c2sTakesOneShuffleOfTheStoredKeptEntriesPerCell() {
    // The explicit zero is shuffled too: the generator moves as a shuffle of 4 (all) or 3 (Bb excluded).
    for (boolean[] kept : new boolean[][] {null, {true, false, true, true}}) {
      AtlasSubset subset = new AtlasSubset(4, kept, 0);
      NumpyRandomState rng = new NumpyRandomState(42);
      new CellSentenceBuilder(FOUR_GENES, subset, 1, TieOrder.C2S, true, true).build("cell", COLS, VALS, 0, 4, rng);
      NumpyRandomState expected = new NumpyRandomState(42);
      expected.skipShuffle(kept == null ? 4 : 3);
      assertThat(rng.state()).isEqualTo(expected.state());
    }
  }

  @Test
  void riboMitoPatterns() {
    assertThat(List.of("RPL3", "Rps6", "RPLP0", "MRPL12", "mrps5", "MT-CO1", "mt-Nd1", "RPS6KA1"))
        .allMatch(RiboMitoGenes::matches);
    assertThat(List.of("MTOR", "MT2A", "ACTB", "PRPL1", "RP11-34P13.7", "MTRNR2L12")).noneMatch(RiboMitoGenes::matches);
  }

  @Test
  void promptIsCell2SentencesTemplateZero() {
    String prompt = PromptTemplate.c2sCellType().format(200, "Homo sapiens", "CD3E ACTB");
    assertThat(prompt).isEqualTo("The following is a list of 200 gene names ordered by descending expression level "
        + "in a Homo sapiens cell. Your task is to give the cell type which this cell belongs to based on its gene "
        + "expression.\nCell sentence: CD3E ACTB.\nThe cell type corresponding to these genes is:");
    assertThat(PromptTemplate.answer("T cell")).isEqualTo(" T cell.");
    assertThat(new PromptTemplate("{{x}} {num_genes}/{organism}: {cell_sentence}}}").format(3, "Mus musculus", "A B"))
        .isEqualTo("{x} 3/Mus musculus: A B}");
  }

  @Test
  void badTemplatesAreRejected() {
    assertThatThrownBy(() -> new PromptTemplate("genes: {genes}"))
        .hasMessageContaining("unknown placeholder {genes}");
    assertThatThrownBy(() -> new PromptTemplate("{num_genes} genes"))
        .hasMessageContaining("no {cell_sentence} placeholder");
    assertThatThrownBy(() -> new PromptTemplate("{cell_sentence"))
        .hasMessageContaining("never closed");
    assertThatThrownBy(() -> new PromptTemplate("{cell_sentence} }"))
        .hasMessageContaining("single '}'");
  }

  @Test
  void badEntriesNameTheAtlasCellAndGene() {
    CellSentenceBuilder b = builder(FOUR_GENES, AtlasSubset.all(4), 200, true, false);
    assertThatThrownBy(() -> b.build("cell7", new int[] {1}, new double[] {Double.NaN}, 0, 1, null))
        .hasMessageContaining("atlas four.h5ad: cell cell7 has count NaN for gene Bb (column 1)")
        .hasMessageContaining("finite count >= 0");
    assertThatThrownBy(() -> b.build("cell7", new int[] {2}, new double[] {-1}, 0, 1, null))
        .hasMessageContaining("count -1.0 for gene CC");
    assertThatThrownBy(() -> b.build("cell7", new int[] {4}, new double[] {1}, 0, 1, null))
        .hasMessageContaining("gene column 4; expected a column in [0, 4)");
    assertThatThrownBy(() -> b.build("cell7", new int[] {2, 0, 2}, new double[] {1, 1, 1}, 0, 3, null))
        .hasMessageContaining("cell cell7 stores gene CC (column 2) more than once");
  }

  private static CellSentenceBuilder builder(AtlasMeta meta, AtlasSubset subset, int k, boolean upper,
                                             boolean dropZeros) {
    return new CellSentenceBuilder(meta, subset, k, TieOrder.GENE_ORDER, upper, dropZeros);
  }
}
