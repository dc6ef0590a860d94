package org.cellcircuits.io;

import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;

/**
 * A folder of Parquet files as a table (what {@code spark.read().parquet(dir)} reads: every file whose name does
 * not start with {@code _} or {@code .}).
 */
public final class ParquetFolder {
  private ParquetFolder() {
  }

  /**
   * Rows of the table, summed from the files' footers: the count Spark's {@code count()} gives, without starting
   * Spark SQL (whose first use in a JVM costs seconds of class loading and compilation).
   */
  public static long rowCount(Configuration conf, String dir) throws IOException {
    Path folder = new Path(dir);
    FileSystem fs = folder.getFileSystem(conf);
    long rows = 0;
    for (FileStatus f : fs.listStatus(folder)) {
      String name = f.getPath().getName();
      if (f.isFile() && !name.startsWith("_") && !name.startsWith(".")) {
        try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromStatus(f, conf))) {
          rows += reader.getRecordCount();
        }
      }
    }
    return rows;
  }
}
