package org.cellcircuits.io;

import java.util.List;

/**
 * A stage already committed output made from another config or other inputs, and the run did not ask to overwrite
 * it. Refusing protects results that later stages (or people) already rely on.
 */
public final class StageConflictException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  private final List<String> differences;

  StageConflictException(String message, List<String> differences) {
    super(message);
    this.differences = List.copyOf(differences);
  }

  /** One line per differing config key or input, {@code key: old -> new}. */
  public List<String> differences() {
    return differences;
  }
}
