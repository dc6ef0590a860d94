package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TrainingProgressTest {

    static StepRecord record(long step, long tokens) {
        return new StepRecord(step, tokens, 1.23456, 1.1, 0.5, 23.44, 0.0125, 0.9234, 3e-4, 1.4e-4, 0);
    }

    @Test
    void linesComeEveryIntervalWithRateMetricsAndEta() {
        AtomicLong clock = new AtomicLong(1_000_000_000L);
        List<String> lines = new ArrayList<>();
        // resumed at step 100 (409,600 tokens) of 1,000; a line at most every 5 s
        TrainingProgress p = new TrainingProgress("blocks.3 transcoder", 1000, 5_000_000_000L, clock::get, lines::add,
                100, 409_600);
        clock.addAndGet(4_000_000_000L);
        assertThat(p.maybeReport(record(149, 614_400))).isNull();
        clock.addAndGet(6_000_000_000L); // 10 s after the start: 100 steps, 409,600 tokens
        String line = p.maybeReport(record(199, 819_200));
        assertThat(line).isEqualTo("train blocks.3 transcoder: step 200 / 1,000 (20.0%), 40,960 tokens/s, "
                + "loss 1.2346, mse 1.1000, L0 23.4, dead 1.3%, EV 0.923, ETA 0:01:20");
        assertThat(lines).containsExactly(line);
        clock.addAndGet(1_000_000_000L);
        assertThat(p.maybeReport(record(209, 860_160))).isNull();
        assertThat(p.finish(record(999, 4_096_000))).endsWith("ETA 0:00:00, done");
        assertThat(TrainingProgress.duration(3725)).isEqualTo("1:02:05");
    }
}
