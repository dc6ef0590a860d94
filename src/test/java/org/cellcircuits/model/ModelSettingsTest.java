package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.cellcircuits.evaluate.EvaluateParams;
import org.cellcircuits.harvest.HarvestParams;
import org.cellcircuits.jobs.ConfigLoader;
import org.junit.jupiter.api.Test;

/** The model section, read once for the harvest and the evaluation alike. */
class ModelSettingsTest {
  private static com.typesafe.config.Config config(String... overrides) {
    List<String> all = new ArrayList<>(List.of("model.path=demo/model"));
    all.addAll(Arrays.asList(overrides));
    return ConfigLoader.load(null, all);
  }

  @Test
  void readsEveryKeyOfTheSection() {
    ModelSettings m = ModelSettings.fromConfig(config("model.device=gpu:1", "model.precision=bf16",
        "model.batch-size=3", "model.max-new-tokens=5", "model.stop-at-period=false"));
    assertThat(m).isEqualTo(new ModelSettings("demo/model", "gpu:1", "bf16", 3, 5, false));
    assertThat(m.predictOptions()).isEqualTo(new PredictOptions(5, 3, false));
  }

  @Test
  void harvestAndEvaluateLoadAndDecodeTheModelTheSameWay() {
    com.typesafe.config.Config c = config("model.batch-size=2", "model.max-new-tokens=7", "model.precision=fp32",
        "split.held-out-fraction=0.2");
    assertThat(HarvestParams.fromConfig(c).model()).isEqualTo(EvaluateParams.fromConfig(c).model())
        .isEqualTo(ModelSettings.fromConfig(c));
  }

  @Test
  void badValuesNameTheKey() {
    assertThatThrownBy(() -> ModelSettings.fromConfig(config("model.path=null")))
        .hasMessageStartingWith("cellcircuits.model.path is not set; expected the model's HuggingFace checkpoint");
    assertThatThrownBy(() -> ModelSettings.fromConfig(config("model.batch-size=0")))
        .hasMessage("cellcircuits.model.batch-size is invalid: 0; need >= 1");
    assertThatThrownBy(() -> ModelSettings.fromConfig(config("model.max-new-tokens=-2")))
        .hasMessage("cellcircuits.model.max-new-tokens is invalid: -2; need >= 1");
    assertThatThrownBy(() -> ModelSettings.fromConfig(config("model.precision=int8")))
        .hasMessageStartingWith("cellcircuits.model.precision is invalid: 'int8'; need one of auto, fp32");
    assertThatThrownBy(() -> HarvestParams.fromConfig(config("model.stop-at-period=maybe")))
        .hasMessageContaining("cellcircuits.model").hasMessageContaining("stop-at-period");
  }
}
