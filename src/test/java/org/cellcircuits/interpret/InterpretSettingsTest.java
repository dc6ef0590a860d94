package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.cellcircuits.jobs.ConfigLoader;
import org.junit.jupiter.api.Test;

class InterpretSettingsTest {

  @Test
  void theReferenceDefaultsAreTheDocumentedOnes() {
    InterpretSettings s = InterpretSettings.fromConfig(ConfigLoader.load(null, List.of()));
    assertThat(s.params()).isEqualTo(InterpretParams.defaults());
    assertThat(s.markersPath()).isNull();
    assertThat(s.geneSetsPath()).isNull();
    assertThat(s.layers()).isEmpty();
    assertThat(s.device()).isEqualTo("auto");
    assertThat(s.batchSize()).isEqualTo(4096);
    assertThat(s.featureShards()).isEqualTo(1);
  }

  @Test
  void everyKeyIsRead() {
    InterpretSettings s = InterpretSettings.fromConfig(ConfigLoader.load(null, List.of(
        "interpret.top-examples=5", "interpret.enrichment-top-genes=3", "interpret.gene-level-threshold=0.6",
        "interpret.cell-type-threshold=0.7", "interpret.template-threshold=0.4", "interpret.position-threshold=0.3",
        "interpret.markers-path=demo/markers.tsv", "interpret.gene-sets-path=sets.gmt", "interpret.layers=[2, 0]",
        "interpret.device=gpu:1", "interpret.batch-size=64", "interpret.feature-shards=4")));
    assertThat(s.params()).isEqualTo(new InterpretParams(5, 3, 0.6, 0.7, 0.4, 0.3));
    assertThat(s.markersPath()).isEqualTo("demo/markers.tsv");
    assertThat(s.geneSetsPath()).isEqualTo("sets.gmt");
    assertThat(s.layers()).containsExactly(2, 0);
    assertThat(s.device()).isEqualTo("gpu:1");
    assertThat(s.batchSize()).isEqualTo(64);
    assertThat(s.featureShards()).isEqualTo(4);
  }

  @Test
  void aBadValueNamesItsKey() {
    assertThatThrownBy(() -> settings("interpret.gene-level-threshold=1.5"))
        .hasMessage("cellcircuits.interpret.gene-level-threshold is invalid: 1.5; need a share in (0, 1]");
    assertThatThrownBy(() -> settings("interpret.top-examples=abc"))
        .hasMessageContaining("top-examples");
    assertThatThrownBy(() -> settings("interpret.feature-shards=0"))
        .hasMessage("cellcircuits.interpret.feature-shards is invalid: 0; need >= 1");
    assertThatThrownBy(() -> settings("interpret.batch-size=0"))
        .hasMessage("cellcircuits.interpret.batch-size is invalid: 0; need >= 1");
    assertThatThrownBy(() -> settings("interpret.device=tpu"))
        .hasMessage("cellcircuits.interpret.device is 'tpu'; expected auto, cpu, gpu or gpu:N");
    assertThatThrownBy(() -> settings("interpret.layers=[1, 1]"))
        .hasMessage("cellcircuits.interpret.layers is [1, 1]; a layer is listed twice");
    assertThatThrownBy(() -> settings("interpret.layers=[-1]"))
        .hasMessageStartingWith("cellcircuits.interpret.layers lists layer -1");
  }

  @Test
  void featureShardsCoverEveryFeatureOnceInOrder() {
    for (int dSae : new int[] {1, 7, 48, 1024}) {
      for (int shards : new int[] {1, 2, 3, 5, 64}) {
        List<Integer> covered = new ArrayList<>();
        int previousEnd = 0;
        for (int s = 0; s < shards; s++) {
          int[] r = InterpretSettings.featureRange(dSae, shards, s);
          assertThat(r[0]).as("shard %d of %d, d_sae %d", s, shards, dSae).isEqualTo(previousEnd);
          assertThat(r[1] - r[0]).isBetween(dSae / shards, dSae / shards + 1);
          for (int f = r[0]; f < r[1]; f++) {
            covered.add(f);
          }
          previousEnd = r[1];
        }
        assertThat(covered).hasSize(dSae).doesNotHaveDuplicates();
        assertThat(previousEnd).isEqualTo(dSae);
      }
    }
  }

  private static InterpretSettings settings(String override) {
    return InterpretSettings.fromConfig(ConfigLoader.load(null, List.of(override)));
  }
}
