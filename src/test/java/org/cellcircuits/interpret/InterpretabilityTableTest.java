package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class InterpretabilityTableTest {

  private static FeatureSummary feature(int f, long fired, double geneShare) {
    GeneLevelScore genes = new GeneLevelScore(fired == 0 ? null : "G" + f, geneShare,
        fired == 0 ? List.of() : List.of("G" + f), geneShare);
    FeatureLabel label = fired == 0 ? new FeatureLabel(FeatureLabel.Kind.DEAD, null)
        : new FeatureLabel(FeatureLabel.Kind.UNLABELLED, null);
    return new FeatureSummary(f, fired, 0, genes, new CellTypeProfile(Map.of(), null, 0), 0, 0, List.of(), List.of(),
        label);
  }

  @Test
  void sharesOfLiveFeaturesPerThresholdWorkedByHand() {
    List<FeatureSummary> features = new ArrayList<>();
    features.add(feature(0, 9, 0.35));
    features.add(feature(1, 3, 0.5));
    features.add(feature(2, 1, 0.95));
    features.add(feature(3, 4, 0.1));
    features.add(feature(4, 0, 0));  // dead: not in the denominator
    InterpretabilityTable table = InterpretabilityTable.of(features);
    assertThat(table.rows()).extracting(InterpretabilityTable.Row::threshold)
        .containsExactly(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9);
    assertThat(table.rows()).extracting(InterpretabilityTable.Row::liveFeatures).containsOnly(4);
    assertThat(table.rows()).extracting(InterpretabilityTable.Row::geneLevelFeatures)
        .containsExactly(3, 2, 2, 1, 1, 1, 1);
    assertThat(table.at(0.5).share()).isEqualTo(0.5);
    assertThat(table.format()).contains("     0.50     4           2   50.0%");
  }

  @Test
  void noLiveFeatureGivesZeroSharesAndBadThresholdsAreRefused() {
    InterpretabilityTable empty = InterpretabilityTable.of(List.of(feature(0, 0, 0)));
    assertThat(empty.at(0.3).share()).isZero();
    assertThatThrownBy(() -> InterpretabilityTable.of(List.of(), new double[] {0.0}))
        .hasMessageContaining("threshold 0.0");
    assertThatThrownBy(() -> empty.at(0.55)).hasMessageContaining("no row at threshold 0.55");
  }

  @Test
  void sideBySidePutsEachTablesColumnsUnderItsNameRowByRow() {
    InterpretabilityTable transcoder = InterpretabilityTable.ofScores(List.of(0.35, 0.5, 0.95, 0.1),
        new double[] {0.3, 0.5});
    InterpretabilityTable sae = InterpretabilityTable.ofScores(List.of(0.2, 0.6), new double[] {0.3, 0.5});
    Map<String, InterpretabilityTable> both = new java.util.LinkedHashMap<>();
    both.put("transcoder", transcoder);
    both.put("sae", sae);
    assertThat(InterpretabilityTable.sideBySide(both)).isEqualTo(""
        + "                         transcoder                       sae\n"
        + "threshold  live  gene-level   share  live  gene-level   share\n"
        + "     0.30     4           3   75.0%     2           1   50.0%\n"
        + "     0.50     4           2   50.0%     2           1   50.0%\n");
    assertThatThrownBy(() -> InterpretabilityTable.sideBySide(Map.of("a", transcoder,
        "b", InterpretabilityTable.ofScores(List.of(), new double[] {0.3}))))
        .hasMessageContaining("has thresholds");
    assertThatThrownBy(() -> InterpretabilityTable.sideBySide(Map.of())).hasMessageContaining("no table");
  }
}
