package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** Values at chosen steps, worked out by hand from the schedule's definition. */
class TrainingScheduleTest {

    /** 100 steps of 10 tokens; lr 1e-3 warms up over 10 steps and decays to 1e-4 over the last 20. */
    static TranscoderConfig.Builder run() {
        return TranscoderConfig.builder().modelName("m").dIn(4).trainingTokens(1000).trainBatchSizeTokens(10)
                .lr(1e-3).lrEnd(1e-4).lrWarmUpSteps(10).lrDecaySteps(20).l1Coefficient(2e-4).l1WarmUpSteps(5);
    }

    @Test
    void learningRateWarmsUpHoldsAndDecaysLinearly() {
        TranscoderConfig c = run().build();
        assertThat(c.totalSteps()).isEqualTo(100);
        assertThat(TrainingSchedule.learningRate(c, 0)).isCloseTo(1e-4, within(1e-15));
        assertThat(TrainingSchedule.learningRate(c, 4)).isCloseTo(5e-4, within(1e-15));
        assertThat(TrainingSchedule.learningRate(c, 9)).isCloseTo(1e-3, within(1e-15));
        assertThat(TrainingSchedule.learningRate(c, 10)).isEqualTo(1e-3);
        assertThat(TrainingSchedule.learningRate(c, 79)).isEqualTo(1e-3);
        // decay steps 80..99: progress (s - 80 + 1) / 20
        assertThat(TrainingSchedule.learningRate(c, 80)).isCloseTo(1e-3 - 9e-4 / 20, within(1e-15));
        assertThat(TrainingSchedule.learningRate(c, 89)).isCloseTo(1e-3 - 9e-4 / 2, within(1e-15));
        assertThat(TrainingSchedule.learningRate(c, 99)).isCloseTo(1e-4, within(1e-15));
    }

    @Test
    void cosineDecayFollowsHalfACosine() {
        TranscoderConfig c = run().lrDecay(LrDecay.COSINE).build();
        assertThat(TrainingSchedule.learningRate(c, 79)).isEqualTo(1e-3);
        assertThat(TrainingSchedule.learningRate(c, 80))
                .isCloseTo(1e-4 + 9e-4 * 0.5 * (1 + Math.cos(Math.PI / 20)), within(1e-15));
        assertThat(TrainingSchedule.learningRate(c, 89)).isCloseTo(5.5e-4, within(1e-15)); // halfway
        assertThat(TrainingSchedule.learningRate(c, 99)).isCloseTo(1e-4, within(1e-15));
    }

    @Test
    void noWarmUpNoDecayIsConstant() {
        TranscoderConfig c = run().lrWarmUpSteps(0).lrDecaySteps(0).l1WarmUpSteps(0).build();
        for (long s : new long[] {0, 50, 99}) {
            assertThat(TrainingSchedule.learningRate(c, s)).isEqualTo(1e-3);
            assertThat(TrainingSchedule.sparsityCoefficient(c, s)).isEqualTo(2e-4);
        }
    }

    @Test
    void lambdaWarmsUpLinearly() {
        TranscoderConfig c = run().build();
        assertThat(TrainingSchedule.sparsityCoefficient(c, 0)).isCloseTo(4e-5, within(1e-18));
        assertThat(TrainingSchedule.sparsityCoefficient(c, 2)).isCloseTo(1.2e-4, within(1e-18));
        assertThat(TrainingSchedule.sparsityCoefficient(c, 4)).isCloseTo(2e-4, within(1e-18));
        assertThat(TrainingSchedule.sparsityCoefficient(c, 50)).isEqualTo(2e-4);
    }

    @Test
    void stepsOutsideTheRunAreRejected() {
        TranscoderConfig c = run().build();
        assertThatThrownBy(() -> TrainingSchedule.learningRate(c, 100)).hasMessageContaining("step 100 is outside");
        assertThatThrownBy(() -> TrainingSchedule.sparsityCoefficient(c, -1)).hasMessageContaining("step -1 is outside");
    }
}
