package org.cellcircuits.jobs;

import java.util.List;
import java.util.Objects;
import org.cellcircuits.io.StageResult;

/**
 * A stage that is registered (so the pipeline's order and the command line are complete) but not built yet. Running
 * it fails with exit code 2 and names the issue that will build it; it never pretends to have done anything.
 *
 * @param issue where the work is tracked, e.g. {@code issue 6}
 */
public record PendingStage(String name, String description, List<String> upstream, String issue) implements Stage {
  public PendingStage {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(description, "description");
    upstream = List.copyOf(upstream);
    Objects.requireNonNull(issue, "issue");
  }

  @Override
  public StageResult write(StageContext ctx, String attemptDir) {
    throw notImplemented();
  }

  public StageNotImplementedException notImplemented() {
    return new StageNotImplementedException(String.format("stage %s is not implemented yet (%s)", name, issue));
  }
}
