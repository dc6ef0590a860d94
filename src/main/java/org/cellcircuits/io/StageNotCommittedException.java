package org.cellcircuits.io;

import java.io.FileNotFoundException;

/** A reader asked for a stage's output, but that stage has no commit marker under the run root. */
public final class StageNotCommittedException extends FileNotFoundException {
  private static final long serialVersionUID = 1L;

  private final String stage;

  StageNotCommittedException(String stage, String root, String marker) {
    super(String.format("stage %s has no committed output under %s (no %s); run `cellcircuits %s` first",
        stage, root, marker, stage));
    this.stage = stage;
  }

  public String stage() {
    return stage;
  }
}
