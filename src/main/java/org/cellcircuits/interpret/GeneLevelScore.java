package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * How much of a feature is about one gene: the share of its activation mass (sum of z over every token it fired on)
 * that lies on the tokens of its single most-activating gene, and on those of its top 3 genes.
 *
 * <p>Rules:
 * <ul>
 *   <li>A gene is its symbol. All tokens that spell it count for it: the several BPE pieces of a symbol the vocabulary
 *       does not hold whole (say {@code PECAM1} as {@code ĠPE}, {@code CAM}, {@code 1}), and its occurrences in every
 *       cell. The harvest tags each piece with the symbol of the gene containing its first non-space character, so
 *       the pieces are summed, never ranked against each other.
 *   <li>Tokens outside every gene (prompt template, punctuation, answer) count in the total mass but for no gene, so
 *       a feature that fires mostly on the template scores low.
 *   <li>Genes of equal mass are ordered by symbol, so the score does not depend on the order tokens arrived in.
 * </ul>
 *
 * @param topGene the gene with the most mass, or null when the feature never fired on a gene token
 * @param topGeneShare its share of the total mass, in [0, 1]
 * @param topGenes up to {@value #TOP_GENES} genes by mass, heaviest first
 * @param topGenesShare their summed share of the total mass, in [0, 1]
 */
public record GeneLevelScore(String topGene, double topGeneShare, List<String> topGenes, double topGenesShare)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  /** How many genes {@link #topGenesShare} adds up. */
  public static final int TOP_GENES = 3;

  public GeneLevelScore {
    topGenes = List.copyOf(topGenes);
  }

  /** The score of a feature's accumulated mass. */
  public static GeneLevelScore of(ActivationMass mass) {
    List<Map.Entry<String, Double>> ranked = genesByMass(mass);
    double total = mass.total();
    if (ranked.isEmpty() || total <= 0) {
      return new GeneLevelScore(null, 0, List.of(), 0);
    }
    List<String> top = new ArrayList<>();
    double topMass = 0;
    for (Map.Entry<String, Double> e : ranked.subList(0, Math.min(TOP_GENES, ranked.size()))) {
      top.add(e.getKey());
      topMass += e.getValue();
    }
    // min(1, ...): the gene sums and the total are added in different orders, so rounding could push a share past 1.
    return new GeneLevelScore(top.get(0), Math.min(1, ranked.get(0).getValue() / total), top,
        Math.min(1, topMass / total));
  }

  /** Every gene with its mass, heaviest first, equal masses by symbol. */
  public static List<Map.Entry<String, Double>> genesByMass(ActivationMass mass) {
    List<Map.Entry<String, Double>> ranked = new ArrayList<>(mass.byGene().entrySet());
    ranked.sort(Map.Entry.<String, Double>comparingByValue(Comparator.reverseOrder())
        .thenComparing(Map.Entry.comparingByKey()));
    return ranked;
  }

  /** The {@code n} genes with the most mass, heaviest first (fewer when the feature fired on fewer genes). */
  public static List<String> topGenes(ActivationMass mass, int n) {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Double> e : genesByMass(mass)) {
      if (out.size() == n) {
        break;
      }
      out.add(e.getKey());
    }
    return out;
  }
}
