package org.cellcircuits.io;

/** The work of one stage attempt: write every table under the attempt folder, then say what was written. */
@FunctionalInterface
public interface StageBody {
  /**
   * @param attemptDir qualified URI of a fresh attempt folder (not yet created); write each table to
   *     {@code attemptDir + "/" + table}, e.g. {@code df.write().parquet(attemptDir + "/sentences")}
   * @return rows per table (every table written must be named) and optional stats
   */
  StageResult write(String attemptDir) throws Exception;
}
