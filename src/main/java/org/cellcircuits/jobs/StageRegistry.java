package org.cellcircuits.jobs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The pipeline: stages in the order {@code run} executes them, each after the stages it reads. */
public final class StageRegistry {
  private final Map<String, Stage> stages = new LinkedHashMap<>();

  /**
   * @throws IllegalArgumentException for a duplicate name or a stage listed before one it reads
   */
  public StageRegistry(List<? extends Stage> inOrder) {
    for (Stage stage : inOrder) {
      for (String up : stage.upstream()) {
        if (!stages.containsKey(up)) {
          throw new IllegalArgumentException(String.format(
              "stage %s reads stage %s, which is not registered before it (registered: %s)",
              stage.name(), up, stages.keySet()));
        }
      }
      if (stages.putIfAbsent(stage.name(), stage) != null) {
        throw new IllegalArgumentException("stage " + stage.name() + " is registered twice");
      }
    }
  }

  /**
   * The project's pipeline. Stages not built yet are {@link PendingStage}s naming their issue; each issue replaces its
   * entry with the real stage.
   */
  public static StageRegistry defaults() {
    return new StageRegistry(List.of(
        new SentencesStage(),
        new HarvestStage(),
        new TrainStage(),
        new EvaluateStage(),
        new CircuitsStage(),
        new InterpretStage()));
  }

  public List<Stage> inOrder() {
    return new ArrayList<>(stages.values());
  }

  public Optional<Stage> get(String name) {
    return Optional.ofNullable(stages.get(name));
  }
}
