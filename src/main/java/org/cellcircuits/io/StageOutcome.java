package org.cellcircuits.io;

import java.util.Objects;

/**
 * How a stage run ended.
 *
 * @param status {@code SKIPPED}: an equal spec had already committed; {@code COMMITTED}: this run wrote and committed
 * @param marker the marker that is committed now
 */
public record StageOutcome(Status status, StageMarker marker) {
  public enum Status { SKIPPED, COMMITTED }

  public StageOutcome {
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(marker, "marker");
  }
}
