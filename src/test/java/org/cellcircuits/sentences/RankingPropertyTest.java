package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The builder's selection of the top K against a brute force: canonicalise the row, shuffle (or not), a full
 * stable sort of every entry with {@link List#sort} (TimSort, stable), then the first K. Random sparse matrices
 * with heavy ties, explicit zeros, rows stored out of order, rows with fewer than K genes, and K = 1.
 */
class RankingPropertyTest {

  @Test
  void topKSelectionEqualsTheFirstKOfTheFullStableSort() {
    SplittableRandom random = new SplittableRandom(20240611);
    int checked = 0;
    for (int trial = 0; trial < 60; trial++) {
      int nGenes = 1 + random.nextInt(trial % 3 == 0 ? 20 : 600);
      InMemoryAtlas atlas = randomAtlas(random, 40, nGenes);
      for (TieOrder ties : TieOrder.values()) {
        for (boolean dropZeros : new boolean[] {false, true}) {
          boolean[] kept = null;
          int minGenes = 0;
          if (trial % 4 == 1) {
            kept = new boolean[nGenes];
            for (int g = 0; g < nGenes; g++) {
              kept[g] = random.nextInt(3) > 0;
            }
            minGenes = random.nextInt(4);
          }
          AtlasSubset subset = new AtlasSubset(nGenes, kept, minGenes);
          SentencesParams all = SentencesParams.builder().topK(Integer.MAX_VALUE).ties(ties)
              .dropExplicitZeros(dropZeros).seed(trial).build();
          List<List<String>> reference = bruteForce(atlas, subset, all);
          for (int k : new int[] {1, 2, 5, 37, 200, 5000}) {
            List<CellSentence> ours = SequentialSentences.build(atlas, subset, all.toBuilder().topK(k).build());
            for (int r = 0; r < ours.size(); r++) {
              if (reference.get(r) == null) {
                assertThat(ours.get(r)).as("dropped cell %d", r).isNull();
              } else {
                List<String> expected = reference.get(r).subList(0, Math.min(k, reference.get(r).size()));
                if (!ours.get(r).genes().equals(expected)) { // AssertJ only to report: it is slow per call
                  assertThat(ours.get(r).genes()).as("trial %d cell %d K %d %s dropZeros %s", trial, r, k, ties,
                      dropZeros).containsExactlyElementsOf(expected);
                }
                checked++;
              }
            }
          }
        }
      }
    }
    assertThat(checked).isGreaterThan(50_000);
  }

  @Test
  void longRowsRankedThroughASampledBoundAgreeToo() {
    // Rows of 1,024 or more candidates and K at most a quarter of them are first cut to the keys below a bound
    // sampled from the row. Integer counts (the long-key path) with heavy ties, explicit zeros.
    SplittableRandom random = new SplittableRandom(7);
    int nGenes = 4000;
    int cells = 24;
    List<String> symbols = symbols(nGenes);
    long[] indptr = new long[cells + 2];
    List<Integer> indices = new ArrayList<>();
    List<Double> values = new ArrayList<>();
    double[] levels = {0, 1, 1, 1, 1, 2, 2, 3, 4, 9, 30};
    for (int r = 0; r < cells; r++) {
      int stored = 1024 + random.nextInt(3000);
      for (int c = 0, left = stored; c < nGenes && left > 0; c++) {
        if (random.nextInt(nGenes - c) < left) {
          indices.add(c);
          values.add(levels[random.nextInt(levels.length)]);
          left--;
        }
      }
      indptr[r + 1] = indices.size();
    }
    // A row whose evenly spaced sample holds only its highest values: in gene order (no shuffle) the sampled bound
    // is far below the 256th key, and the builder must notice and rank every key.
    int m = 2048;
    for (int c = 0; c < m; c++) {
      indices.add(c);
      values.add(c % (m / 128) == 0 ? 100.0 : 1.0);
    }
    indptr[cells + 1] = indices.size();
    String[] ids = new String[cells + 1];
    for (int r = 0; r <= cells; r++) {
      ids[r] = "c" + r;
    }
    InMemoryAtlas atlas = new InMemoryAtlas("long rows", ids, symbols, java.util.Map.of(), indptr,
        indices.stream().mapToInt(Integer::intValue).toArray(),
        values.stream().mapToDouble(Double::doubleValue).toArray());
    AtlasSubset subset = new AtlasSubset(nGenes, null, 0);
    int checked = 0;
    for (TieOrder ties : TieOrder.values()) {
      for (boolean dropZeros : new boolean[] {false, true}) {
        SentencesParams all = SentencesParams.builder().topK(Integer.MAX_VALUE).ties(ties)
            .dropExplicitZeros(dropZeros).seed(3).build();
        List<List<String>> reference = bruteForce(atlas, subset, all);
        for (int k : new int[] {1, 200, 256, 700}) {
          List<CellSentence> ours = SequentialSentences.build(atlas, subset, all.toBuilder().topK(k).build());
          for (int r = 0; r < ours.size(); r++) {
            List<String> expected = reference.get(r).subList(0, Math.min(k, reference.get(r).size()));
            assertThat(ours.get(r).genes()).as("cell %d K %d %s dropZeros %s", r, k, ties, dropZeros)
                .containsExactlyElementsOf(expected);
            checked++;
          }
        }
      }
    }
    assertThat(checked).isEqualTo(4 * 4 * (cells + 1));
  }

  /** Rows of 0 to ~1.3 x nGenes distinct stored genes, counts from a handful of values (many ties), ~8% zeros. */
  static InMemoryAtlas randomAtlas(SplittableRandom random, int nCells, int nGenes) {
    List<String> symbols = symbols(nGenes);
    long[] indptr = new long[nCells + 1];
    List<Integer> indices = new ArrayList<>();
    List<Double> values = new ArrayList<>();
    String[] ids = new String[nCells];
    // Exact floats take the builder's long-key path; 0.1 and 1/3 are not floats and take its double path.
    double[] levels = random.nextBoolean() ? new double[] {0, 1, 1, 1, 2, 2, 3, 4.5, 7, 1e6}
        : new double[] {0, 0.1, 0.1, 1.0 / 3, 1, 1, 2, 2, 3, 1e6};
    for (int r = 0; r < nCells; r++) {
      ids[r] = "c" + r;
      int stored = random.nextInt(Math.min(nGenes, 1 + random.nextInt(nGenes + 1)) + 1);
      List<Integer> cols = new ArrayList<>();
      for (int g = 0; g < nGenes; g++) {
        cols.add(g);
      }
      // A random subset of the columns, in random order (rows stored out of column order).
      for (int i = cols.size() - 1; i > 0; i--) {
        int j = random.nextInt(i + 1);
        Integer t = cols.get(i);
        cols.set(i, cols.get(j));
        cols.set(j, t);
      }
      List<Integer> row = new ArrayList<>(cols.subList(0, stored));
      if (random.nextBoolean()) {
        row.sort(null);
      }
      for (int c : row) {
        indices.add(c);
        values.add(levels[random.nextInt(levels.length)]);
      }
      indptr[r + 1] = indices.size();
    }
    return new InMemoryAtlas("random", ids, symbols, java.util.Map.of(), indptr,
        indices.stream().mapToInt(Integer::intValue).toArray(),
        values.stream().mapToDouble(Double::doubleValue).toArray());
  }

  /** Gene symbols g0, g1, ... */
  private static List<String> symbols(int nGenes) {
    List<String> symbols = new ArrayList<>(nGenes);
    for (int g = 0; g < nGenes; g++) {
      symbols.add("g" + g);
    }
    return symbols;
  }

  /** Ranked symbols per cell, or null for a dropped cell, by the most direct procedure there is. */
  static List<List<String>> bruteForce(InMemoryAtlas atlas, AtlasSubset subset, SentencesParams params) {
    NumpyRandomState rng = new NumpyRandomState(params.seed());
    List<List<String>> out = new ArrayList<>();
    for (int r = 0; r < atlas.cellIds.length; r++) {
      List<int[]> entries = new ArrayList<>(); // {column, index into values}
      int expressed = 0;
      for (int k = (int) atlas.indptr[r]; k < atlas.indptr[r + 1]; k++) {
        if (subset.keepsGene(atlas.indices[k])) {
          entries.add(new int[] {atlas.indices[k], k});
          expressed += atlas.values[k] > 0 ? 1 : 0;
        }
      }
      if (expressed < subset.minGenesPerCell()) {
        out.add(null);
        continue;
      }
      entries.sort(Comparator.comparingInt(e -> e[0]));
      List<int[]> sequence = new ArrayList<>();
      if (params.ties() == TieOrder.C2S) {
        int[] perm = new int[entries.size()];
        for (int i = 0; i < perm.length; i++) {
          perm[i] = i;
        }
        rng.shuffle(perm);
        for (int p : perm) {
          sequence.add(entries.get(p));
        }
      } else {
        sequence.addAll(entries);
      }
      sequence.sort(Comparator.comparingDouble((int[] e) -> atlas.values[e[1]]).reversed());
      List<String> genes = new ArrayList<>();
      for (int[] e : sequence) {
        if (params.dropExplicitZeros() && atlas.values[e[1]] == 0) {
          continue;
        }
        if (genes.size() < params.topK()) {
          genes.add(atlas.geneSymbols.get(e[0]).toUpperCase(Locale.ROOT));
        }
      }
      out.add(genes);
    }
    return out;
  }
}
