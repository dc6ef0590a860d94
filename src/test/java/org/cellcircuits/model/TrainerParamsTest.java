package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class TrainerParamsTest {

    @Test
    void scheduleWarmsUpLinearlyThenDecaysByCosineToTheFloor() {
        TrainerParams p = TrainerParams.builder().steps(110).warmupSteps(10).learningRate(1e-3).build();
        assertThat(p.learningRateAt(0)).isCloseTo(1e-4, within(1e-12));
        assertThat(p.learningRateAt(4)).isCloseTo(5e-4, within(1e-12));
        assertThat(p.learningRateAt(9)).isCloseTo(1e-3, within(1e-12));
        assertThat(p.learningRateAt(10)).as("first decay step is the peak").isCloseTo(1e-3, within(1e-12));
        // 100 decay steps 10..109 at progress (s - 10) / 99 from peak 1e-3 to floor 1e-4
        assertThat(p.learningRateAt(59)).isCloseTo(1e-4 + 0.5 * 9e-4 * (1 + Math.cos(Math.PI * 49 / 99.0)), within(1e-12));
        assertThat(p.learningRateAt(109)).as("last step is at the floor").isCloseTo(1e-4, within(1e-12));
        for (int s = 11; s < 110; s++) {
            assertThat(p.learningRateAt(s)).isLessThan(p.learningRateAt(s - 1));
        }
        assertThatThrownBy(() -> p.learningRateAt(110)).hasMessageContaining("step 110").hasMessageContaining("[0, 110)");
    }

    @Test
    void noWarmupStartsAtThePeak() {
        TrainerParams p = TrainerParams.builder().steps(5).warmupSteps(0).learningRate(2e-3).minLearningRateRatio(0).build();
        assertThat(p.learningRateAt(0)).isCloseTo(2e-3, within(1e-12));
        assertThat(p.learningRateAt(4)).isCloseTo(0, within(1e-12));
    }

    @Test
    void badValuesAreRejectedWithNameAndRange() {
        assertThatThrownBy(() -> TrainerParams.builder().steps(0).build()).hasMessageContaining("steps is invalid: 0").hasMessageContaining(">= 1");
        assertThatThrownBy(() -> TrainerParams.builder().learningRate(-1).build()).hasMessageContaining("learningRate is invalid: -1");
        assertThatThrownBy(() -> TrainerParams.builder().steps(10).warmupSteps(11).build())
                .hasMessageContaining("warmupSteps is invalid: 11").hasMessageContaining("steps = 10");
        assertThatThrownBy(() -> TrainerParams.builder().beta2(1).build()).hasMessageContaining("beta2 is invalid: 1.0");
        assertThatThrownBy(() -> TrainerParams.builder().heldOutFraction(0.9).build()).hasMessageContaining("heldOutFraction");
        assertThatThrownBy(() -> TrainerParams.builder().maxGradNorm(Double.NaN).build()).hasMessageContaining("maxGradNorm is invalid: NaN");
        assertThat(TrainerParams.defaults().toBuilder().seed(7).build().seed()).isEqualTo(7);
    }
}
