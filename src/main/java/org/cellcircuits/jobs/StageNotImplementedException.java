package org.cellcircuits.jobs;

/** A registered stage that has not been built yet was asked to run (exit code 2). */
public final class StageNotImplementedException extends UnsupportedOperationException {
  private static final long serialVersionUID = 1L;

  public StageNotImplementedException(String message) {
    super(message);
  }
}
