package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class GeneLevelScoreTest {

  private static HarvestedToken gene(String cell, int pos, String symbol, int rank) {
    return HarvestedToken.gene(cell, "endothelial cell", pos, symbol, rank);
  }

  @Test
  void theBpePiecesOfOneGeneAddUpToOneGene() {
    // PECAM1 is three pieces at 0.2 each (0.6 together); VWF is one token at 0.5. Ranked piece by piece VWF would be
    // the top gene; as genes PECAM1 is.
    ActivationMass mass = new ActivationMass();
    mass.add(gene("c1", 4, "PECAM1", 1), 0.2);
    mass.add(gene("c1", 5, "PECAM1", 1), 0.2);
    mass.add(gene("c1", 6, "PECAM1", 1), 0.2);
    mass.add(gene("c1", 3, "VWF", 0), 0.5);
    GeneLevelScore score = GeneLevelScore.of(mass);
    assertThat(score.topGene()).isEqualTo("PECAM1");
    assertThat(score.topGeneShare()).isCloseTo(0.6 / 1.1, within(1e-12));
    assertThat(score.topGenes()).containsExactly("PECAM1", "VWF");
    assertThat(score.topGenesShare()).isCloseTo(1.0, within(1e-12));
  }

  @Test
  void nonGeneTokensCountInTheTotalButForNoGene() {
    // Genes A 4, B 3, C 2, D 1 (D's in another cell), template tokens 10: total 20.
    ActivationMass mass = new ActivationMass();
    mass.add(gene("c1", 10, "A", 0), 4);
    mass.add(gene("c1", 11, "B", 1), 1);
    mass.add(gene("c2", 11, "B", 1), 2);
    mass.add(gene("c1", 12, "C", 2), 2);
    mass.add(gene("c2", 12, "D", 3), 1);
    mass.add(HarvestedToken.nonGene("c1", "endothelial cell", 0), 6);
    mass.add(HarvestedToken.nonGene("c2", "endothelial cell", 1), 4);
    GeneLevelScore score = GeneLevelScore.of(mass);
    assertThat(score.topGene()).isEqualTo("A");
    assertThat(score.topGeneShare()).isCloseTo(4.0 / 20, within(1e-12));
    assertThat(score.topGenes()).containsExactly("A", "B", "C");
    assertThat(score.topGenesShare()).isCloseTo(9.0 / 20, within(1e-12));
    assertThat(mass.nonGeneShare()).isCloseTo(0.5, within(1e-12));
  }

  @Test
  void equalMassesAreOrderedBySymbolWhateverTheArrivalOrder() {
    ActivationMass one = new ActivationMass();
    one.add(gene("c1", 1, "TTN", 0), 1);
    one.add(gene("c1", 2, "MYH7", 1), 1);
    ActivationMass other = new ActivationMass();
    other.add(gene("c1", 2, "MYH7", 1), 1);
    other.add(gene("c1", 1, "TTN", 0), 1);
    assertThat(GeneLevelScore.of(one)).isEqualTo(GeneLevelScore.of(other));
    assertThat(GeneLevelScore.of(one).topGene()).isEqualTo("MYH7");
    assertThat(GeneLevelScore.topGenes(one, 1)).isEqualTo(List.of("MYH7"));
  }

  @Test
  void aFeatureWithoutGeneTokensHasNoTopGene() {
    ActivationMass mass = new ActivationMass();
    assertThat(GeneLevelScore.of(mass)).isEqualTo(new GeneLevelScore(null, 0, List.of(), 0));
    mass.add(HarvestedToken.nonGene("c1", "t", 0), 3);
    assertThat(GeneLevelScore.of(mass).topGene()).isNull();
    assertThat(GeneLevelScore.of(mass).topGeneShare()).isZero();
  }
}
