package org.cellcircuits.io;

import java.io.IOException;

/**
 * Work a stage does once its output is committed (train deleting its resume checkpoints). {@link StageCommitter}
 * runs it while it still holds the stage's lease, so no second writer of the stage starts while it writes; it must
 * be idempotent, since a crash before it runs leaves it to the next run.
 */
@FunctionalInterface
public interface AfterCommit {
  /** Nothing to do. */
  AfterCommit NONE = () -> { };

  void run() throws IOException;
}
