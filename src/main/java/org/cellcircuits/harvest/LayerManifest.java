package org.cellcircuits.harvest;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code activations/layer=L/_manifest.json}: the files of one layer that belong to the committed harvest, with their
 * row counts. The harvest writes it after the job, from the results of the task attempts Spark accepted; a reader
 * that follows it never opens a file a failed or duplicate attempt left behind, and can split the rows between
 * workers without opening a single Parquet footer. Spark ignores files whose names start with '_'.
 *
 * @param layer block index
 * @param dModel vector width
 * @param format vector encoding
 * @param files the Parquet files, by name inside the layer folder
 */
public record LayerManifest(int layer, int dModel, VectorFormat format, List<FileEntry> files) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Its file name inside the layer folder. */
  public static final String NAME = "_manifest.json";
  private static final int FORMAT_VERSION = 1;

  /**
   * One Parquet file.
   *
   * @param name file name inside the layer folder
   * @param rows stored tokens in it
   * @param bytes its size
   */
  public record FileEntry(String name, long rows, long bytes) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  public LayerManifest {
    if (layer < 0 || dModel <= 0) {
      throw new IllegalArgumentException(String.format("manifest of layer %d has d_model %d", layer, dModel));
    }
    Objects.requireNonNull(format, "format");
    files = List.copyOf(files);
  }

  /** Stored tokens over all files. */
  public long rows() {
    return files.stream().mapToLong(FileEntry::rows).sum();
  }

  /** Bytes over all files. */
  public long bytes() {
    return files.stream().mapToLong(FileEntry::bytes).sum();
  }

  public void write(Path layerDir, Configuration conf) throws IOException {
    JsonObject o = new JsonObject();
    o.addProperty("format_version", FORMAT_VERSION);
    o.addProperty("layer", layer);
    o.addProperty("d_model", dModel);
    o.addProperty("vector_format", format.id());
    o.addProperty("rows", rows());
    JsonArray list = new JsonArray();
    for (FileEntry f : files) {
      JsonObject e = new JsonObject();
      e.addProperty("name", f.name());
      e.addProperty("rows", f.rows());
      e.addProperty("bytes", f.bytes());
      list.add(e);
    }
    o.add("files", list);
    byte[] bytes = (new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n").getBytes(StandardCharsets.UTF_8);
    FileSystem fs = layerDir.getFileSystem(conf);
    try (OutputStream out = fs.create(new Path(layerDir, NAME), true)) {
      out.write(bytes);
    }
  }

  /**
   * Reads the manifest of a layer folder.
   *
   * @throws FileNotFoundException when the folder has none (not a committed harvest layer)
   * @throws IllegalArgumentException naming the file and field when it is malformed
   */
  public static LayerManifest read(Path layerDir, Configuration conf) throws IOException {
    Path file = new Path(layerDir, NAME);
    FileSystem fs = file.getFileSystem(conf);
    String text;
    try (InputStream in = fs.open(file)) {
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (FileNotFoundException e) {
      throw new FileNotFoundException(String.format(
          "%s has no %s: it is not a layer folder written by the harvest stage", layerDir, NAME));
    }
    try {
      JsonObject o = JsonParser.parseString(text).getAsJsonObject();
      int version = o.get("format_version").getAsInt();
      if (version > FORMAT_VERSION) {
        throw new IllegalArgumentException("format_version " + version + " is newer than this reader (1)");
      }
      List<FileEntry> files = new ArrayList<>();
      for (JsonElement e : o.getAsJsonArray("files")) {
        JsonObject f = e.getAsJsonObject();
        files.add(new FileEntry(f.get("name").getAsString(), f.get("rows").getAsLong(), f.get("bytes").getAsLong()));
      }
      return new LayerManifest(o.get("layer").getAsInt(), o.get("d_model").getAsInt(),
          VectorFormat.parse("vector_format", o.get("vector_format").getAsString()), files);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(String.format("%s is malformed: %s", file, e.getMessage()), e);
    }
  }
}
