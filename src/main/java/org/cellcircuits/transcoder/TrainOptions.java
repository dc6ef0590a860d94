package org.cellcircuits.transcoder;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * How {@link TranscoderTrainer#train} runs, as opposed to what it learns: none of these change the weights, so none
 * is part of the config hash and a run may resume with different ones.
 *
 * @param checkpointRoot       folder for {@code step=S/} checkpoints, or null for none
 * @param checkpointEverySteps write a checkpoint every this many steps and at the end (>= 1; ignored without a root)
 * @param progressEvery        how often to log a progress line
 * @param progressSink         where progress lines go
 * @param name                 what the progress lines call this run, e.g. {@code blocks.3 transcoder}
 * @param stopAfterSteps       stop once this many steps are done (for chunked runs and tests); at most the run's
 *                             total, which is the usual value ({@link Long#MAX_VALUE} means "the whole run")
 * @param afterCheckpoint      called with each complete checkpoint folder right after it is written (the train stage
 *                             publishes it to the run root, which may be an object store)
 * @param afterStep            called after every step (the train stage counts steps in a Spark accumulator, which
 *                             the Spark UI shows while the task runs)
 */
public record TrainOptions(Path checkpointRoot, int checkpointEverySteps, Duration progressEvery,
        Consumer<String> progressSink, String name, long stopAfterSteps, Consumer<Path> afterCheckpoint,
        Consumer<StepRecord> afterStep) {

    public TrainOptions {
        Objects.requireNonNull(progressEvery, "progressEvery");
        Objects.requireNonNull(progressSink, "progressSink");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(afterCheckpoint, "afterCheckpoint");
        Objects.requireNonNull(afterStep, "afterStep");
        if (checkpointEverySteps < 1) {
            throw new IllegalArgumentException("checkpoint interval must be >= 1 step, got " + checkpointEverySteps);
        }
        if (stopAfterSteps < 0) {
            throw new IllegalArgumentException("stopAfterSteps must be >= 0, got " + stopAfterSteps);
        }
    }

    /** No checkpoints, progress every 5 s to {@code sink}, the whole run. */
    public static TrainOptions logTo(Consumer<String> sink, String name) {
        return new TrainOptions(null, Integer.MAX_VALUE, Duration.ofSeconds(5), sink, name, Long.MAX_VALUE, p -> {},
                r -> {});
    }

    public TrainOptions withCheckpoints(Path root, int everySteps) {
        return new TrainOptions(root, everySteps, progressEvery, progressSink, name, stopAfterSteps,
                afterCheckpoint, afterStep);
    }

    public TrainOptions stoppingAfter(long steps) {
        return new TrainOptions(checkpointRoot, checkpointEverySteps, progressEvery, progressSink, name, steps,
                afterCheckpoint, afterStep);
    }

    public TrainOptions afterEachCheckpoint(Consumer<Path> action) {
        return new TrainOptions(checkpointRoot, checkpointEverySteps, progressEvery, progressSink, name, stopAfterSteps,
                action, afterStep);
    }

    public TrainOptions afterEachStep(Consumer<StepRecord> action) {
        return new TrainOptions(checkpointRoot, checkpointEverySteps, progressEvery, progressSink, name, stopAfterSteps,
                afterCheckpoint, action);
    }

    public TrainOptions withProgressEvery(Duration every) {
        return new TrainOptions(checkpointRoot, checkpointEverySteps, every, progressSink, name, stopAfterSteps,
                afterCheckpoint, afterStep);
    }
}
