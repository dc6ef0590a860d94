package org.cellcircuits.harvest;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Types;
import ai.djl.ndarray.NDManager;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;

/**
 * One harvested layer as training data: streams shuffled batches of (mlp_in, mlp_out) as fp32 NDArrays of shape
 * {@code [batch, d_model]} from that layer's Parquet files, and only from them.
 *
 * <pre>{@code
 * ActivationStore store = ActivationStore.open(root, 12);            // driver or plain JVM
 * try (ActivationBatches epoch = store.batches(manager, conf, 4096, 1 << 16, seed + epochIndex)) {
 *   while (epoch.hasNext()) {
 *     try (ActivationBatch b = epoch.next()) { train(b.mlpIn(), b.mlpOut()); }
 *   }
 * }
 * }</pre>
 *
 * <p>The files are those the harvest committed ({@link LayerManifest}), read with parquet-hadoop through the Hadoop
 * FileSystem API (local, s3a, hdfs), one row group at a time, projecting only the two vector columns: memory holds
 * one row group's pages and the shuffle buffer, never the layer. The instance is serializable (paths and the manifest
 * only), so a driver can open it and ship it, or a {@link #shard} of it, to Spark tasks, which pass their Hadoop
 * configuration (from a broadcast {@code SerializableConfiguration}) to {@link #batches}.
 *
 * <p>Shuffling: the file order and each file's row-group order are permuted, and rows pass through a shuffle buffer
 * that emits a uniformly chosen buffered row for each row it takes in. Every row comes out exactly once per epoch; the
 * order is a function of the seed alone (pass a different seed per epoch for a different order). Rows further apart
 * than the buffer size stay somewhat ordered, as with any streaming shuffle: make the buffer several row groups long.
 */
public final class ActivationStore implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String layerDir;
  private final LayerManifest manifest;
  private final List<LayerManifest.FileEntry> files;

  private ActivationStore(String layerDir, LayerManifest manifest, List<LayerManifest.FileEntry> files) {
    this.layerDir = layerDir;
    this.manifest = manifest;
    this.files = List.copyOf(files);
  }

  /**
   * What the harvest marker says about a layer, without opening any data file.
   *
   * @param layer block index
   * @param dModel vector width
   * @param rows stored tokens
   * @param format vector encoding
   */
  public record LayerInfo(int layer, int dModel, long rows, VectorFormat format) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * d_model, row count and encoding of a harvested layer, from the committed harvest marker.
   *
   * @throws FileNotFoundException when the layer was not harvested (the message lists the layers that were)
   */
  public static LayerInfo layerInfo(RunRoot root, int layer) throws IOException {
    StageMarker marker = root.requireCommitted("harvest");
    Long rows = marker.rowCounts().get(ActivationSchema.layerTable(layer));
    if (rows == null) {
      throw new FileNotFoundException(String.format(
          "harvest attempt %s under %s has no layer %d; its tables are %s", marker.attemptId(), root.uri(), layer,
          marker.rowCounts().keySet()));
    }
    Double dModel = marker.stats().get("d_model");
    if (dModel == null) {
      throw new IllegalArgumentException(String.format("harvest marker under %s has no d_model stat", root.uri()));
    }
    return new LayerInfo(layer, dModel.intValue(), rows, formatOf(marker, root));
  }

  private static VectorFormat formatOf(StageMarker marker, RunRoot root) {
    JsonElement harvest = JsonParser.parseString(marker.configJson()).getAsJsonObject().get("harvest");
    JsonElement format = harvest == null ? null : ((JsonObject) harvest).get("vector-format");
    return format == null ? VectorFormat.FP16
        : VectorFormat.parse("harvest marker under " + root.uri() + ": harvest.vector-format", format.getAsString());
  }

  /**
   * The committed harvest's layer {@code layer} under a run root.
   *
   * @throws FileNotFoundException when the harvest is not committed or did not store this layer
   */
  public static ActivationStore open(RunRoot root, int layer) throws IOException {
    layerInfo(root, layer); // a clear error for a layer that was not harvested
    Path dir = root.committedPath("harvest", ActivationSchema.layerTable(layer));
    ActivationStore store = open(dir.toString(), root.hadoop());
    if (store.layer() != layer) {
      throw new IllegalArgumentException(String.format("%s holds layer %d, not %d", dir, store.layer(), layer));
    }
    return store;
  }

  /** A layer folder written by the harvest ({@code .../activations/layer=L}), read through its manifest. */
  public static ActivationStore open(String layerDir, Configuration conf) throws IOException {
    LayerManifest manifest = LayerManifest.read(new Path(layerDir), conf);
    return new ActivationStore(layerDir, manifest, manifest.files());
  }

  /**
   * Part {@code index} of {@code count} disjoint parts (whole files, dealt round-robin by size), for data-parallel
   * workers that each read their own share of the layer.
   */
  public ActivationStore shard(int index, int count) {
    if (count < 1 || index < 0 || index >= count) {
      throw new IllegalArgumentException(String.format("shard %d of %d: need 0 <= index < count", index, count));
    }
    List<LayerManifest.FileEntry> sorted = new ArrayList<>(files);
    sorted.sort((a, b) -> a.rows() != b.rows() ? Long.compare(b.rows(), a.rows()) : a.name().compareTo(b.name()));
    List<LayerManifest.FileEntry> mine = new ArrayList<>();
    for (int i = index; i < sorted.size(); i += count) {
      mine.add(sorted.get(i));
    }
    return new ActivationStore(layerDir, manifest, mine);
  }

  public int layer() {
    return manifest.layer();
  }

  public int dModel() {
    return manifest.dModel();
  }

  public VectorFormat format() {
    return manifest.format();
  }

  /** Rows in this store's files (the whole layer, or a shard's share). */
  public long rows() {
    return files.stream().mapToLong(LayerManifest.FileEntry::rows).sum();
  }

  /** The layer folder. */
  public String layerDir() {
    return layerDir;
  }

  /** The Parquet files this store reads. */
  public List<LayerManifest.FileEntry> files() {
    return files;
  }

  /**
   * One epoch of shuffled batches.
   *
   * @param manager where the batches' NDArrays are created (their device)
   * @param conf Hadoop configuration that opens the files
   * @param batchSize rows per batch (>= 1); the last batch of the epoch may be smaller
   * @param shuffleBuffer rows held for shuffling (>= 1; 1 = file order after permuting files and row groups)
   * @param seed fixes the order
   */
  public ActivationBatches batches(NDManager manager, Configuration conf, int batchSize, int shuffleBuffer,
      long seed) {
    Objects.requireNonNull(manager, "manager");
    Objects.requireNonNull(conf, "conf");
    List<Path> paths = new ArrayList<>(files.size());
    for (LayerManifest.FileEntry f : files) {
      paths.add(new Path(new Path(layerDir), f.name()));
    }
    return new ActivationBatches(manager, conf, paths, manifest.dModel(), manifest.format(), batchSize,
        shuffleBuffer, seed, rows());
  }

  /**
   * Names a stored row by what it is: {@code cell C12 token 17 (row 5 of .../part-00003.parquet)}. Reads the cell id
   * and position of that one row, so it is meant for error messages, not for every row.
   */
  public static String describeRow(Configuration conf, Path file, long rowInFile) {
    String where = String.format("row %d of %s", rowInFile, file);
    MessageType projection = new MessageType("activation",
        Types.required(PrimitiveType.PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType())
            .named(ActivationSchema.CELL_ID),
        Types.required(PrimitiveType.PrimitiveTypeName.INT32).named(ActivationSchema.POS));
    try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(file, conf))) {
      reader.setRequestedSchema(projection);
      long start = 0;
      for (int g = 0; g < reader.getRowGroups().size(); g++) {
        long rows = reader.getRowGroups().get(g).getRowCount();
        if (rowInFile < start + rows) {
          PageReadStore pages = reader.readRowGroup(g);
          RecordReader<Group> records = new ColumnIOFactory()
              .getColumnIO(projection, reader.getFooter().getFileMetaData().getSchema())
              .getRecordReader(pages, new GroupRecordConverter(projection));
          Group row = null;
          for (long r = start; r <= rowInFile; r++) {
            row = records.read();
          }
          return String.format("cell %s token %d (%s)", row.getString(ActivationSchema.CELL_ID, 0),
              row.getInteger(ActivationSchema.POS, 0), where);
        }
        start += rows;
      }
      return where + ", which the file does not have";
    } catch (IOException | RuntimeException e) {
      return where + " (its cell could not be read: " + e.getMessage() + ")";
    }
  }

  @Override
  public String toString() {
    return String.format("ActivationStore[%s, layer %d, d_model %d, %d rows in %d files]", layerDir, layer(),
        dModel(), rows(), files.size());
  }
}
