package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Sentences byte-identical to cell2sentence's own {@code generate_sentences} (run by make_rng_fixtures.py on a CSR
 * atlas with many ties, explicit zeros, rows stored out of column order and cells with fewer than K genes),
 * built sequentially and replayed partition by partition from the pre-pass's checkpoints.
 */
class Cell2SentenceFixtureTest {
  private static final JsonObject FIXTURE = C2sFixture.json("c2s_sentences.json");
  private static final InMemoryAtlas ATLAS = C2sFixture.atlas();

  @Test
  void fixtureComesFromCell2SentenceItself() {
    assertThat(FIXTURE.get("reference").getAsString()).startsWith("cell2sentence utils.generate_sentences");
  }

  @Test
  void fullSentencesMatchCell2Sentence() {
    String[] expected = C2sFixture.strings(FIXTURE.getAsJsonObject("unfiltered"), "sentences");
    // K = 200 is more than the 50 genes, so these are cell2sentence's untruncated sentences.
    List<CellSentence> ours = SequentialSentences.build(ATLAS, AtlasSubset.all(50), SentencesParams.defaults());
    for (int r = 0; r < expected.length; r++) {
      assertThat(ours.get(r).sentence()).as("cell %s", ATLAS.cellIds[r]).isEqualTo(expected[r]);
      assertThat(String.join(" ", ours.get(r).genes())).isEqualTo(expected[r]);
      assertThat(ours.get(r).nExpressed()).isEqualTo(expressed(r, null));
    }
  }

  @Test
  void topKIsThePromptFormattersTruncation() {
    String[] expected = C2sFixture.strings(FIXTURE.getAsJsonObject("unfiltered"), "sentences");
    for (int k : new int[] {1, 3, 10}) {
      List<CellSentence> ours = SequentialSentences.build(ATLAS, AtlasSubset.all(50),
          SentencesParams.builder().topK(k).build());
      for (int r = 0; r < expected.length; r++) {
        // prompt_formatter.get_cell_sentence_str: " ".join(sentence.split(" ")[:k])
        String[] words = expected[r].split(" ", -1);
        String truncated = String.join(" ", Arrays.copyOf(words, Math.min(k, words.length)));
        assertThat(ours.get(r).sentence()).as("cell %s, K = %d", ATLAS.cellIds[r], k).isEqualTo(truncated);
      }
    }
  }

  @Test
  void promptsMatchCell2SentencesFormatter() {
    String[] expected = C2sFixture.strings(FIXTURE.getAsJsonObject("unfiltered"), "sentences");
    for (JsonElement e : FIXTURE.getAsJsonArray("prompts")) {
      JsonObject o = e.getAsJsonObject();
      int k = o.get("k").getAsInt();
      int cell = o.get("cell").getAsInt();
      SentencesParams p = SentencesParams.builder().topK(k).build();
      CellSentence s = SequentialSentences.build(ATLAS, AtlasSubset.all(50), p).get(cell);
      assertThat(s.sentence()).isEqualTo(String.join(" ", Arrays.copyOf(expected[cell].split(" "),
          Math.min(k, expected[cell].split(" ").length))));
      assertThat(p.template().format(k, FIXTURE.get("organism").getAsString(), s.sentence()))
          .isEqualTo(o.get("prompt").getAsString());
    }
  }

  @Test
  void filteredSentencesMatchCell2SentenceOnTheSubsetAtlas() {
    for (JsonElement e : FIXTURE.getAsJsonArray("filtered")) {
      JsonObject c = e.getAsJsonObject();
      AtlasSubset subset = subsetOf(c);
      List<CellSentence> ours = SequentialSentences.build(ATLAS, subset, SentencesParams.defaults());
      List<Integer> keptCells = new ArrayList<>();
      List<String> sentences = new ArrayList<>();
      for (int r = 0; r < ours.size(); r++) {
        if (ours.get(r) != null) {
          keptCells.add(r);
          sentences.add(ours.get(r).sentence());
          assertThat(ours.get(r).nExpressed()).isEqualTo(expressed(r, subset))
              .isGreaterThanOrEqualTo(subset.minGenesPerCell());
        }
      }
      assertThat(keptCells).as("kept cells of %s", c.get("min_genes_per_cell"))
          .containsExactly(Arrays.stream(C2sFixture.ints(c, "kept_cells")).boxed().toArray(Integer[]::new));
      assertThat(sentences).as("case %s", caseName(c)).containsExactly(C2sFixture.strings(c, "sentences"));
    }
  }

  @Test
  void partitionsReplayedFromPrepassCheckpointsEqualTheSequentialRun() throws IOException {
    List<AtlasSubset> subsets = new ArrayList<>();
    subsets.add(AtlasSubset.all(50));
    for (JsonElement e : FIXTURE.getAsJsonArray("filtered")) {
      subsets.add(subsetOf(e.getAsJsonObject()));
    }
    SentencesParams params = SentencesParams.defaults();
    for (AtlasSubset subset : subsets) {
      List<CellSentence> sequential = SequentialSentences.build(ATLAS, subset, params);
      for (int rowsPerPartition : new int[] {1, 2, 7, 64, 239, 240, 1000}) {
        RowRanges ranges = new RowRanges(ATLAS.cellIds.length, rowsPerPartition);
        TieBreakPrepass.Checkpoints cp;
        try (AtlasReader reader = ATLAS.source().open()) {
          cp = TieBreakPrepass.run(42, ranges, p -> {
            int[] out = new int[(int) (ranges.end(p) - ranges.start(p))];
            for (int i = 0; i < out.length; i++) {
              int r = (int) ranges.start(p) + i;
              out[i] = subset.isEverything() ? reader.storedPerRow(r, r + 1)[0]
                  : subset.tieBreakEntries("fixture", ATLAS.cellIds[r], ATLAS.geneSymbols, ATLAS.indices,
                  ATLAS.values, (int) ATLAS.indptr[r], (int) ATLAS.indptr[r + 1]);
            }
            return out;
          });
        }
        // Partitions built in reverse order, each from its own checkpoint: no dependence on the others.
        CellSentenceBuilder builder = CellSentenceBuilder.of(ATLAS.meta(), subset, params);
        for (int p = ranges.count() - 1; p >= 0; p--) {
          NumpyRandomState rng = NumpyRandomState.restore(cp.startStates().get(p));
          for (long r = ranges.start(p); r < ranges.end(p); r++) {
            int i = (int) r;
            CellSentence s = builder.build(ATLAS.cellIds[i], ATLAS.indices, ATLAS.values, (int) ATLAS.indptr[i],
                (int) ATLAS.indptr[i + 1], rng);
            assertThat(s).as("row %d with %d rows per partition", r, rowsPerPartition).isEqualTo(sequential.get(i));
          }
          assertThat(rng.state()).isEqualTo(cp.endOf(p));
        }
        assertThat(cp.keptCells() + cp.droppedCells()).isEqualTo(ATLAS.cellIds.length);
        assertThat(cp.keptCells()).isEqualTo(sequential.stream().filter(s -> s != null).count());
      }
    }
  }

  static AtlasSubset subsetOf(JsonObject c) {
    boolean[] kept = new boolean[50];
    for (int g : C2sFixture.ints(c, "kept_genes")) {
      kept[g] = true;
    }
    return new AtlasSubset(50, kept, c.get("min_genes_per_cell").getAsInt());
  }

  static String caseName(JsonObject c) {
    return String.format("min genes %s, min cells %s, ribo/mito %s", c.get("min_genes_per_cell"),
        c.get("min_cells_per_gene"), c.get("exclude_ribo_mito"));
  }

  /** Kept genes with a count > 0 in row r, straight from the CSR. */
  static int expressed(int r, AtlasSubset subset) {
    int n = 0;
    for (long k = ATLAS.indptr[r]; k < ATLAS.indptr[r + 1]; k++) {
      if (ATLAS.values[(int) k] > 0 && (subset == null || subset.keepsGene(ATLAS.indices[(int) k]))) {
        n++;
      }
    }
    return n;
  }
}
