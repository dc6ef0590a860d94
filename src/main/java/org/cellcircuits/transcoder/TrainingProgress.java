package org.cellcircuits.transcoder;

import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Logs a line every few seconds while a layer trains, e.g.
 * {@code train blocks.3 transcoder: step 1,200 / 12,208 (9.8%), 45,321 tokens/s, loss 1.2345, mse 1.1000, L0 23.4,
 * dead 1.2%, EV 0.923, ETA 0:03:12}. Rates count only this session's steps, so a resumed run reports its real speed.
 */
final class TrainingProgress {

    private final String what;
    private final long totalSteps;
    private final long intervalNanos;
    private final LongSupplier clock;
    private final Consumer<String> sink;
    private final long startNanos;
    private final long startTokens;
    private final long startStep;
    private long lastReport;

    TrainingProgress(String what, long totalSteps, long intervalNanos, LongSupplier clock, Consumer<String> sink,
            long startStep, long startTokens) {
        this.what = what;
        this.totalSteps = totalSteps;
        this.intervalNanos = intervalNanos;
        this.clock = clock;
        this.sink = sink;
        this.startNanos = clock.getAsLong();
        this.lastReport = startNanos;
        this.startStep = startStep;
        this.startTokens = startTokens;
    }

    /** Logs the line for {@code r} if the interval has passed since the last one; returns it, or null. */
    String maybeReport(StepRecord r) {
        long now = clock.getAsLong();
        if (now - lastReport < intervalNanos) {
            return null;
        }
        lastReport = now;
        String text = line(r, now);
        sink.accept(text);
        return text;
    }

    /** Logs the final line unconditionally. */
    String finish(StepRecord r) {
        long now = clock.getAsLong();
        String text = line(r, now) + ", done";
        sink.accept(text);
        return text;
    }

    String line(StepRecord r, long now) {
        double seconds = (now - startNanos) / 1e9;
        long stepsDone = r.step() + 1;
        double tokensPerSecond = seconds > 0 ? (r.tokensSeen() - startTokens) / seconds : 0;
        double stepsPerSecond = seconds > 0 ? (stepsDone - startStep) / seconds : 0;
        String eta = stepsPerSecond > 0 ? duration(Math.round((totalSteps - stepsDone) / stepsPerSecond)) : "?";
        return String.format(Locale.ROOT,
                "train %s: step %,d / %,d (%.1f%%), %,d tokens/s, loss %.4f, mse %.4f, L0 %.1f, dead %.1f%%, EV %.3f, ETA %s",
                what, stepsDone, totalSteps, 100.0 * stepsDone / totalSteps, Math.round(tokensPerSecond), r.loss(),
                r.mse(), r.l0(), 100 * r.deadFraction(), r.explainedVariance(), eta);
    }

    static String duration(long seconds) {
        return String.format(Locale.ROOT, "%d:%02d:%02d", seconds / 3600, (seconds / 60) % 60, seconds % 60);
    }
}
