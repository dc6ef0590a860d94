package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class GeneSetEnrichmentTest {

  /** Twenty genes G0..G19 seen in the harvest. */
  private static final Set<String> UNIVERSE = new LinkedHashSet<>(IntStream.range(0, 20).mapToObj(i -> "G" + i).toList());

  private static final GeneSets SETS = new GeneSets("test", List.of(
      new GeneSet("S1", "", Set.of("G0", "G1", "G2", "G3", "G4", "NOT_SEEN")),  // 5 genes in the universe
      new GeneSet("S2", "", Set.of("G10", "G11")),
      new GeneSet("S3", "", Set.of("X", "Y"))));  // none in the universe: not tested

  @Test
  void pAndQValuesWorkedByHand() {
    Map<Integer, List<String>> top = new LinkedHashMap<>();
    top.put(0, List.of("G0", "G1", "G2"));
    top.put(1, List.of("G10", "G5", "G6"));
    top.put(2, List.of());  // a feature that never fired on a gene: not tested
    List<Enrichment> result = GeneSetEnrichment.test(top, SETS, UNIVERSE);

    // Tests: features 0 and 1 against S1 and S2 = 4; listed only those with an overlap.
    assertThat(result).extracting(Enrichment::feature, Enrichment::geneSet).containsExactly(
        org.assertj.core.groups.Tuple.tuple(0, "S1"), org.assertj.core.groups.Tuple.tuple(1, "S2"));
    Enrichment f0 = result.get(0);
    assertThat(f0.overlapGenes()).containsExactly("G0", "G1", "G2");
    assertThat(f0.setSize()).isEqualTo(5);
    assertThat(f0.topGenes()).isEqualTo(3);
    assertThat(f0.universe()).isEqualTo(20);
    // P(X >= 3) = C(5,3) C(15,0) / C(20,3) = 10 / 1140.
    assertThat(f0.pValue()).isCloseTo(10.0 / 1140, within(1e-15));
    Enrichment f1 = result.get(1);
    assertThat(f1.overlap()).isEqualTo(1);
    // P(X >= 1) = 1 - C(18,3) / C(20,3) = 1 - 816 / 1140 = 324 / 1140.
    assertThat(f1.pValue()).isCloseTo(324.0 / 1140, within(1e-14));
    // BH over m = 4 (the two tests with no overlap have p = 1): q = 4 p / 1 and 4 p / 2.
    assertThat(f0.qValue()).isCloseTo(4 * 10.0 / 1140, within(1e-14));
    assertThat(f1.qValue()).isCloseTo(2 * 324.0 / 1140, within(1e-14));
  }

  @Test
  void aTopGeneOutsideTheUniverseIsAnError() {
    assertThatThrownBy(() -> GeneSetEnrichment.test(Map.of(7, List.of("VWF")), SETS, UNIVERSE))
        .hasMessage("feature 7: top gene VWF is not in the universe of 20 genes seen");
  }

  @Test
  void eachFeaturesStrongestTestIsItsSmallestPValueFirstSetOnTies() {
    Map<Integer, List<String>> top = new LinkedHashMap<>();
    top.put(3, List.of("G10", "G0"));       // one gene of S1 (5 genes), one of S2 (2 genes): S2 is less likely by chance
    top.put(4, List.of("G0", "G1", "G2"));  // S1 only
    List<Enrichment> all = GeneSetEnrichment.test(top, SETS, UNIVERSE);
    Map<Integer, Enrichment> best = GeneSetEnrichment.strongestByFeature(all);
    assertThat(best.keySet()).containsExactly(3, 4);
    assertThat(best.get(3).geneSet()).isEqualTo("S2");
    assertThat(best.get(3).pValue()).isLessThan(all.stream()
        .filter(e -> e.feature() == 3 && e.geneSet().equals("S1")).findFirst().orElseThrow().pValue());
    assertThat(best.get(4).geneSet()).isEqualTo("S1");

    Enrichment a = new Enrichment(9, "A", List.of("G0"), 5, 1, 20, 0.25, 0.5);
    Enrichment b = new Enrichment(9, "B", List.of("G0"), 5, 1, 20, 0.25, 0.5);
    assertThat(GeneSetEnrichment.strongestByFeature(List.of(a, b)).get(9).geneSet()).isEqualTo("A");
  }
}
