package org.cellcircuits.ml;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * A {@link CircuitTransformer} saved by an earlier build still loads with its params: the saved form is
 * {@code metadata/} only (model and transcoders are referenced by path), so the params are all there is to check.
 * Kept apart from {@code CircuitTransformerTest}, whose setup runs the harvest and circuits stages.
 */
class CircuitTransformerFixtureTest {
  private static final String FIXTURE = "src/test/resources/ml/circuit-transformer-0.1.0";
  private static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[1]").appName("CircuitTransformerFixtureTest")
        .config("spark.ui.enabled", "false").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /** The fixture's settings: every kind of param (string, string array, int, double, long) set away from default. */
  private static CircuitTransformer fixture() {
    return new CircuitTransformer("circuits_fixture010").setModelPath("models/c2s-pythia").setDevice("cpu")
        .setPrecision("fp32").setTranscoderFolders(new String[] {"tc/layer=0", "tc/layer=2"})
        .setTarget("label:B cell").setMaxFeatureNodes(20).setBatchSize(8).setMethod("greedy").setGreedyK(3)
        .setNodeThreshold(0.7).setEdgeThreshold(0.9).setAblationFeatures(3).setSeed(42L).setCellIdCol("cell")
        .setNodesCol("nodes_out");
  }

  @Test
  void loadsACircuitTransformerSavedByAnEarlierBuild() {
    CircuitTransformer loaded = CircuitTransformer.load(FIXTURE);
    assertThat(loaded.uid()).isEqualTo("circuits_fixture010");
    assertThat(loaded.getOrDefault(loaded.modelPath())).isEqualTo("models/c2s-pythia");
    assertThat(loaded.getOrDefault(loaded.device())).isEqualTo("cpu");
    assertThat(loaded.getOrDefault(loaded.precision())).isEqualTo("fp32");
    assertThat(loaded.getOrDefault(loaded.transcoderFolders())).containsExactly("tc/layer=0", "tc/layer=2");
    assertThat(loaded.isSet(loaded.runRoot())).isFalse();
    assertThat(loaded.getOrDefault(loaded.target())).isEqualTo("label:B cell");
    assertThat((Integer) loaded.getOrDefault(loaded.maxFeatureNodes())).isEqualTo(20);
    assertThat((Integer) loaded.getOrDefault(loaded.batchSize())).isEqualTo(8);
    assertThat(loaded.getOrDefault(loaded.method())).isEqualTo("greedy");
    assertThat((Integer) loaded.getOrDefault(loaded.greedyK())).isEqualTo(3);
    assertThat((Double) loaded.getOrDefault(loaded.nodeThreshold())).isEqualTo(0.7);
    assertThat((Double) loaded.getOrDefault(loaded.edgeThreshold())).isEqualTo(0.9);
    assertThat((Integer) loaded.getOrDefault(loaded.ablationFeatures())).isEqualTo(3);
    assertThat((Long) loaded.getOrDefault(loaded.seed())).isEqualTo(42L);
    assertThat(loaded.getOrDefault(loaded.cellIdCol())).isEqualTo("cell");
    assertThat(loaded.getOrDefault(loaded.nodesCol())).isEqualTo("nodes_out");
    // Params left unset keep this build's defaults, equal to a fresh transformer's.
    CircuitTransformer fresh = new CircuitTransformer();
    assertThat(loaded.getOrDefault(loaded.edgesCol())).isEqualTo(fresh.getOrDefault(fresh.edgesCol()));
    assertThat((Integer) loaded.getOrDefault(loaded.updateInterval()))
        .isEqualTo(fresh.getOrDefault(fresh.updateInterval()));
    // Every param the fixture set reads back as set, and nothing else does.
    CircuitTransformer expected = fixture();
    for (var p : expected.params()) {
      assertThat(loaded.isSet(loaded.getParam(p.name()))).as(p.name()).isEqualTo(expected.isSet(p));
    }
  }

  /** Writes that fixture: {@code -Dml.writeFixtures=true}. */
  @Test
  @EnabledIfSystemProperty(named = "ml.writeFixtures", matches = "true")
  void writeFixture() throws IOException {
    fixture().write().overwrite().save(FIXTURE);
  }
}
