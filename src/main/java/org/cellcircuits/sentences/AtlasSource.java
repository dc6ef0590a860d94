package org.cellcircuits.sentences;

import java.io.IOException;
import java.io.Serializable;

/**
 * Where an atlas lives and how to open it: shipped to Spark executors so that each task opens its own reader on
 * the same file (local path or s3a:// through the Hadoop FileSystem).
 */
@FunctionalInterface
public interface AtlasSource extends Serializable {
  AtlasReader open() throws IOException;
}
