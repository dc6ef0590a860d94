package org.cellcircuits.evaluate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.cellcircuits.jobs.ConfigLoader;
import org.cellcircuits.sentences.CellSplit;
import org.junit.jupiter.api.Test;

/** Reading and validating the evaluate settings. */
class EvaluateParamsTest {
  static EvaluateParams read(String... overrides) {
    List<String> all = new ArrayList<>(List.of("model.path=demo/model"));
    all.addAll(Arrays.asList(overrides));
    return EvaluateParams.fromConfig(ConfigLoader.load(null, all));
  }

  @Test
  void defaultsComeFromTheReferenceConfig() {
    EvaluateParams p = read();
    assertThat(p.tokensPerBatch()).isEqualTo(2048);
    assertThat(p.cellsPerTask()).isEqualTo(64);
    assertThat(p.maxCells()).isZero();
    assertThat(p.split()).isEqualTo(new CellSplit(0.1, 42));
    assertThat(p.model().predictOptions().maxNewTokens()).isEqualTo(16);
    assertThat(p.model().predictOptions().batchSize()).isEqualTo(8);
    assertThat(p.model().predictOptions().stopAtPeriod()).isTrue();
    assertThat(p.model().device()).isEqualTo("auto");
  }

  @Test
  void badValuesNameTheKeyAndTheLimit() {
    assertThatThrownBy(() -> read("evaluate.cells-per-task=0"))
        .hasMessage("cellcircuits.evaluate.cells-per-task is invalid: 0; need >= 1");
    assertThatThrownBy(() -> read("evaluate.tokens-per-batch=-3"))
        .hasMessage("cellcircuits.evaluate.tokens-per-batch is invalid: -3; need >= 1");
    assertThatThrownBy(() -> read("evaluate.max-cells=-1"))
        .hasMessage("cellcircuits.evaluate.max-cells is invalid: -1; need >= 0");
    assertThatThrownBy(() -> read("model.path=null")).hasMessageStartingWith("cellcircuits.model.path is not set");
    assertThatThrownBy(() -> read("split.held-out-fraction=0"))
        .hasMessageStartingWith("no held-out cells to evaluate: cellcircuits.split.held-out-fraction is 0");
    assertThatThrownBy(() -> read("evaluate.max-cells=lots"))
        .hasMessageContaining("cellcircuits.evaluate").hasMessageContaining("max-cells");
  }
}
