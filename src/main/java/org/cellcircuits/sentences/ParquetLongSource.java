package org.cellcircuits.sentences;

import java.io.IOException;
import java.util.Objects;

/**
 * A Parquet long table (file or folder) for Spark tasks to open (see {@link ParquetLongReader}); the parsed matrix
 * is shared by the tasks of one executor JVM.
 */
public record ParquetLongSource(String path, AtlasOptions options) implements AtlasSource {
  public ParquetLongSource {
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(options, "options");
  }

  @Override
  public AtlasReader open() throws IOException {
    return ParquetLongReader.open(path, options);
  }
}
