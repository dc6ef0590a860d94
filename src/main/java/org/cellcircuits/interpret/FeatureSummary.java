package org.cellcircuits.interpret;

import java.io.Serializable;
import java.util.List;

/**
 * One feature, interpreted: what a row of the {@code features/} table will hold.
 *
 * @param feature index in the layer's dictionary
 * @param firingCount tokens on which z != 0
 * @param firingFrequency firingCount over the tokens seen, in [0, 1]
 * @param geneScore share of its activation mass on its top gene and top 3 genes
 * @param cellTypes mean activation per cell type and the specificity tau
 * @param templateShare share of its mass on tokens outside every gene
 * @param topPositionShare share of its mass at its heaviest token position
 * @param topGenes its heaviest genes by mass, up to {@code enrichment-top-genes}, the list tested for enrichment
 * @param examples its strongest tokens, strongest first
 * @param label its reading by {@link FeatureLabel}'s rules
 */
public record FeatureSummary(int feature, long firingCount, double firingFrequency, GeneLevelScore geneScore,
                             CellTypeProfile cellTypes, double templateShare, double topPositionShare,
                             List<String> topGenes, List<TopExample> examples, FeatureLabel label)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  public FeatureSummary {
    topGenes = List.copyOf(topGenes);
    examples = List.copyOf(examples);
  }

  /** Interprets feature {@code f} of a layer's finished totals. */
  public static FeatureSummary of(int f, LayerAccumulator layer, InterpretParams params) {
    FeatureAccumulator acc = layer.feature(f);
    ActivationMass mass = acc.mass();
    GeneLevelScore genes = GeneLevelScore.of(mass);
    CellTypeProfile types = CellTypeProfile.of(mass, layer.tokensByCellType());
    double frequency = layer.tokensSeen() == 0 ? 0 : (double) acc.firingCount() / layer.tokensSeen();
    return new FeatureSummary(f, acc.firingCount(), frequency, genes, types, mass.nonGeneShare(),
        mass.topPositionShare(), GeneLevelScore.topGenes(mass, params.enrichmentTopGenes()),
        acc.examples().strongestFirst(), FeatureLabel.assign(acc.firingCount(), genes, types, mass, params));
  }

  /**
   * The same summary under another index: a layer interpreted in feature shards accumulates features
   * {@code [start, end)} as {@code 0 .. end - start - 1}, and each summary is moved back to {@code start + f}.
   */
  public FeatureSummary withFeature(int index) {
    return new FeatureSummary(index, firingCount, firingFrequency, geneScore, cellTypes, templateShare,
        topPositionShare, topGenes, examples, label);
  }

  /** Whether the feature fired at least once. */
  public boolean isLive() {
    return firingCount > 0;
  }
}
