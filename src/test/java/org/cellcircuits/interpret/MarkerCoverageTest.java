package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A type is covered by a live feature whose top gene is one of its markers and holds at least the threshold. */
class MarkerCoverageTest {
  private static FeatureSummary feature(int index, long firings, String topGene, double share) {
    GeneLevelScore g = new GeneLevelScore(topGene, share, topGene == null ? List.of() : List.of(topGene), share);
    return new FeatureSummary(index, firings, 0.1, g, null, 0, 0, List.of(), List.of(), null);
  }

  @Test
  void countsTypesWithAGeneLevelFeatureForAMarker() {
    GeneSets markers = new GeneSets("markers.tsv", List.of(
        new GeneSet("endothelial cell", "", Set.of("VWF", "PECAM1")),
        new GeneSet("fibroblast", "", Set.of("DCN", "LUM")),
        new GeneSet("mast cell", "", Set.of("KIT"))));
    MarkerCoverage c = new MarkerCoverage(markers, 0.5);
    c.add(0, List.of(feature(0, 10, "VWF", 0.6), feature(1, 10, "DCN", 0.49), feature(2, 0, "KIT", 0.9)));
    c.add(2, List.of(feature(7, 3, "PECAM1", 0.8), feature(8, 5, "ACTB", 0.9)));

    // DCN below the threshold, KIT's feature dead, ACTB no marker
    assertThat(c.coveredTypes()).isEqualTo(1);
    assertThat(c.types()).isEqualTo(3);
    assertThat(c.hits()).containsOnlyKeys("endothelial cell");
    assertThat(c.hits().get("endothelial cell")).isEqualTo(new MarkerCoverage.Hit(2, 7, "PECAM1", 0.8));
    assertThat(c.counts()).isEqualTo(Map.of("endothelial cell", 2, "fibroblast", 0, "mast cell", 0));
    assertThat(c.format()).startsWith("cell types with a gene-level feature (top gene share >= 0.50) for one of their "
        + "markers (markers.tsv): 1 of 3").contains("layer 2 feature 7 reads PECAM1");
  }
}
