package org.cellcircuits.sentences;

import java.io.IOException;
import java.util.Objects;

/**
 * A 10x Matrix Market folder for Spark tasks to open (see {@link MtxReader}); the parsed matrix is shared by the
 * tasks of one executor JVM.
 */
public record MtxSource(String folder, AtlasOptions options) implements AtlasSource {
  public MtxSource {
    Objects.requireNonNull(folder, "folder");
    Objects.requireNonNull(options, "options");
  }

  @Override
  public AtlasReader open() throws IOException {
    return MtxReader.open(folder, options);
  }
}
