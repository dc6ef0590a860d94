package org.cellcircuits.harvest;

import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.io.api.Binary;

/**
 * The activation files one task writes: one Parquet file per layer under {@code activations/layer=L/}, named after
 * the partition and the task attempt ({@code part-00007-a123.zstd.parquet}), so that two attempts of a partition
 * never write the same file and the driver can keep exactly the files of the attempt whose result it accepted.
 * A file is created on the first token written for its layer.
 */
final class LayerFiles implements PartitionHarvester.TokenSink, AutoCloseable {

  /**
   * One file written.
   *
   * @param layer block index
   * @param name file name inside {@code layer=L/}
   * @param rows tokens in it
   * @param bytes its size
   */
  record Written(int layer, String name, long rows, long bytes) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  private final Path activations;
  private final Configuration conf;
  private final HarvestParams params;
  private final int dModel;
  private final String fileName;
  private final Map<Integer, ActivationWriter> writers = new TreeMap<>();

  LayerFiles(String activationsDir, int partition, long taskAttemptId, Configuration conf, HarvestParams params,
      int dModel) {
    this.activations = new Path(activationsDir);
    this.conf = conf;
    this.params = params;
    this.dModel = dModel;
    this.fileName = String.format(Locale.ROOT, "part-%05d-a%d.%s.parquet", partition, taskAttemptId,
        params.compression().name().toLowerCase(Locale.ROOT));
  }

  @Override
  public void write(int layer, Binary cellId, int pos, int tokenId, Binary geneSymbol, int geneRank,
      byte[] mlpIn, int inOffset, byte[] mlpOut, int outOffset) throws IOException {
    ActivationWriter w = writers.get(layer);
    if (w == null) {
      Path file = new Path(new Path(activations, ActivationSchema.layerFolder(layer)), fileName);
      w = new ActivationWriter(file, conf, dModel, layer, params.vectorFormat(), params.compression(),
          params.rowGroupBytes());
      writers.put(layer, w);
    }
    w.write(cellId, pos, tokenId, geneSymbol, geneRank, mlpIn, inOffset, mlpOut, outOffset);
  }

  /** Closes every file and returns what was written. */
  List<Written> finish() throws IOException {
    List<Written> out = new ArrayList<>();
    IOException failure = null;
    for (Map.Entry<Integer, ActivationWriter> e : writers.entrySet()) {
      try {
        e.getValue().close();
      } catch (IOException ex) {
        failure = failure == null ? ex : failure;
      }
    }
    if (failure != null) {
      throw failure;
    }
    FileSystem fs = activations.getFileSystem(conf);
    for (Map.Entry<Integer, ActivationWriter> e : writers.entrySet()) {
      ActivationWriter w = e.getValue();
      out.add(new Written(e.getKey(), w.path().getName(), w.rows(), fs.getFileStatus(w.path()).getLen()));
    }
    writers.clear();
    return out;
  }

  /** Closes what is open after a failure; the driver deletes files of failed attempts. */
  @Override
  public void close() {
    for (ActivationWriter w : writers.values()) {
      try {
        w.close();
      } catch (IOException | RuntimeException ignored) {
        // The attempt already failed; its files are orphans the driver removes.
      }
    }
    writers.clear();
  }
}
