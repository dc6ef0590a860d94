package org.cellcircuits.sentences;

import java.util.ArrayList;
import java.util.List;

/** cell2sentence's loop, one generator through every cell in order: what the parallel paths must reproduce. */
final class SequentialSentences {
  private SequentialSentences() {
  }

  /** One entry per atlas row: its sentence, or null where the subset drops the cell. */
  static List<CellSentence> build(InMemoryAtlas atlas, AtlasSubset subset, SentencesParams params) {
    CellSentenceBuilder builder = CellSentenceBuilder.of(atlas.meta(), subset, params);
    NumpyRandomState rng = new NumpyRandomState(params.seed());
    List<CellSentence> out = new ArrayList<>();
    for (int r = 0; r < atlas.cellIds.length; r++) {
      out.add(builder.build(atlas.cellIds[r], atlas.indices, atlas.values, (int) atlas.indptr[r],
          (int) atlas.indptr[r + 1], rng));
    }
    return out;
  }
}
