package org.cellcircuits.interpret;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Whether a feature's top genes (by activation mass) are over-represented in a gene set, for every feature of a layer
 * and every set.
 *
 * <p>The universe is the genes seen in the harvest ({@link LayerAccumulator#genesSeen}): only they could have become a
 * top gene. Sets are cut to the universe; a set with none of its genes there is not tested. Each feature with at least
 * one top gene is tested against each remaining set with the hypergeometric upper tail ({@link Hypergeometric}), and
 * the p-values are Benjamini-Hochberg adjusted over all those (feature, set) tests together. Only tests with an
 * overlap of at least one gene are returned (the others have p = 1), but all count in the correction.
 */
public final class GeneSetEnrichment {
  private GeneSetEnrichment() {}

  /**
   * @param topGenesByFeature each feature's top genes, heaviest first (features with none are skipped)
   * @param sets the gene sets
   * @param universe every gene that could be a top gene
   * @return the tests with some overlap, by feature (in the map's iteration order), then set (in file order)
   */
  public static List<Enrichment> test(Map<Integer, List<String>> topGenesByFeature, GeneSets sets,
                                      Set<String> universe) {
    List<GeneSet> tested = new ArrayList<>();
    List<Set<String>> inUniverse = new ArrayList<>();
    for (GeneSet s : sets.sets()) {
      Set<String> kept = new HashSet<>(s.genes());
      kept.retainAll(universe);
      if (!kept.isEmpty()) {
        tested.add(s);
        inUniverse.add(kept);
      }
    }
    int n = universe.size();
    long tests = 0;
    List<Enrichment> hits = new ArrayList<>();
    List<Double> pValues = new ArrayList<>();
    for (Map.Entry<Integer, List<String>> e : topGenesByFeature.entrySet()) {
      List<String> drawn = new ArrayList<>();
      for (String g : e.getValue()) {
        if (!universe.contains(g)) {
          throw new IllegalArgumentException(String.format(
              "feature %d: top gene %s is not in the universe of %d genes seen", e.getKey(), g, n));
        }
        if (!drawn.contains(g)) {
          drawn.add(g);
        }
      }
      if (drawn.isEmpty()) {
        continue;
      }
      for (int s = 0; s < tested.size(); s++) {
        tests++;
        List<String> overlap = new ArrayList<>();
        for (String g : drawn) {
          if (inUniverse.get(s).contains(g)) {
            overlap.add(g);
          }
        }
        if (overlap.isEmpty()) {
          continue;
        }
        int setSize = inUniverse.get(s).size();
        double p = Hypergeometric.upperTail(overlap.size(), n, setSize, drawn.size());
        pValues.add(p);
        hits.add(new Enrichment(e.getKey(), tested.get(s).name(), overlap, setSize, drawn.size(), n, p, Double.NaN));
      }
    }
    double[] q = BenjaminiHochberg.adjust(pValues.stream().mapToDouble(Double::doubleValue).toArray(), tests);
    List<Enrichment> out = new ArrayList<>(hits.size());
    for (int i = 0; i < hits.size(); i++) {
      Enrichment h = hits.get(i);
      out.add(new Enrichment(h.feature(), h.geneSet(), h.overlapGenes(), h.setSize(), h.topGenes(), h.universe(),
          h.pValue(), q[i]));
    }
    return out;
  }

  /**
   * Each feature's most significant test among {@code tests} (as {@link #test} returns them): the smallest p-value,
   * equal p-values by the smaller q, then by the set that comes first in {@code tests} (file order).
   *
   * @return feature to its strongest enrichment, in the order features first appear in {@code tests}
   */
  public static Map<Integer, Enrichment> strongestByFeature(List<Enrichment> tests) {
    Map<Integer, Enrichment> best = new LinkedHashMap<>();
    for (Enrichment e : tests) {
      Enrichment b = best.get(e.feature());
      if (b == null || e.pValue() < b.pValue() || (e.pValue() == b.pValue() && e.qValue() < b.qValue())) {
        best.put(e.feature(), e);
      }
    }
    return best;
  }
}
