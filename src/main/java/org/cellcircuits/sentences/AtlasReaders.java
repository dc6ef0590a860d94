package org.cellcircuits.sentences;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.cellcircuits.runtime.HadoopFiles;

/** Picks the reader for an atlas path: .h5ad file, 10x Matrix Market folder, or Parquet long table. */
public final class AtlasReaders {
  private AtlasReaders() {
  }

  /**
   * The source to hand to Spark tasks for {@code path} (local, file:, s3a://, ...):
   * <ul>
   *   <li>a file ending in {@code .h5ad} → {@link H5adSource};
   *   <li>a folder holding {@code matrix.mtx} or {@code matrix.mtx.gz} → {@link MtxSource};
   *   <li>a file ending in {@code .parquet}, or a folder of Parquet part files → {@link ParquetLongSource}.
   * </ul>
   * Fails with an {@link AtlasFormatException} if the path does not exist or is none of these.
   */
  public static AtlasSource source(String path, AtlasOptions options) throws IOException {
    Configuration conf = HadoopFiles.configuration(options.hadoopConf());
    FileStatus status = status(path, conf);
    String name = status.getPath().getName().toLowerCase(Locale.ROOT);
    if (status.isFile()) {
      if (name.endsWith(".h5ad")) {
        return new H5adSource(path, options);
      }
      if (name.endsWith(".parquet")) {
        return new ParquetLongSource(path, options);
      }
      throw AtlasFormatException.of(path, "file name",
          name.endsWith(".h5") ? "is a 10x HDF5 (.h5) file, which is not read" : "does not say the format",
          "an .h5ad file, a 10x folder with matrix.mtx[.gz], or a Parquet long table (.parquet file or folder)");
    }
    List<String> children = new ArrayList<>();
    for (FileStatus st : HadoopFiles.fileSystem(path, conf).listStatus(status.getPath())) {
      children.add(st.getPath().getName());
    }
    if (children.contains("matrix.mtx") || children.contains("matrix.mtx.gz")) {
      return new MtxSource(path, options);
    }
    if (children.stream().anyMatch(c -> c.endsWith(".parquet") && !c.startsWith(".") && !c.startsWith("_"))) {
      return new ParquetLongSource(path, options);
    }
    throw AtlasFormatException.of(path, "folder", "holds neither matrix.mtx[.gz] nor .parquet files (it holds "
        + (children.size() > 10 ? children.subList(0, 10) + "..." : children) + ")",
        "a 10x folder with matrix.mtx[.gz], features.tsv[.gz], barcodes.tsv[.gz] or a folder of Parquet files");
  }

  /** Opens {@code path} here, in this JVM (the driver, a test, a notebook). */
  public static AtlasReader open(String path, AtlasOptions options) throws IOException {
    return source(path, options).open();
  }

  /** The atlas file or folder at {@code path}; a missing one fails as bad input naming the path. */
  static FileStatus status(String path, Configuration conf) throws IOException {
    try {
      return HadoopFiles.status(path, conf);
    } catch (FileNotFoundException e) {
      throw AtlasFormatException.of(path, "file", "does not exist", "an atlas file or folder at this path");
    }
  }
}
