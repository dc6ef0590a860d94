package org.cellcircuits.transcoder;

import ai.djl.Device;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.cellcircuits.io.HadoopFolders;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;

/**
 * Transcoders in a run root: the {@code train} stage commits one folder per layer, {@code transcoders/layer=L/}
 * ({@code cfg.json} + {@code weights.safetensors}, see {@link Transcoder#save}); later stages find and load them here,
 * on any Hadoop file system.
 *
 * <pre>{@code
 * for (int layer : TranscoderStore.committedLayers(root).keySet()) {
 *   try (Transcoder t = TranscoderStore.loadCommitted(root, layer, Device.cpu())) { ... }
 * }
 * }</pre>
 */
public final class TranscoderStore {
  /** The stage that writes transcoders. */
  public static final String STAGE = "train";
  private static final Pattern LAYER_TABLE = Pattern.compile("transcoders/layer=(\\d+)");

  private TranscoderStore() {}

  /** The table (folder under the stage attempt) of one layer's transcoder. */
  public static String layerTable(int layer) {
    return "transcoders/layer=" + layer;
  }

  /** The layer of a table named by {@link #layerTable}, or null for any other table. */
  public static Integer layerOfTable(String table) {
    Matcher m = LAYER_TABLE.matcher(table);
    return m.matches() ? Integer.valueOf(m.group(1)) : null;
  }

  /** Layer to folder of every transcoder the committed train stage wrote, in layer order. */
  public static Map<Integer, org.apache.hadoop.fs.Path> committedLayers(RunRoot root) throws IOException {
    StageMarker marker = root.requireCommitted(STAGE);
    Map<Integer, org.apache.hadoop.fs.Path> out = new TreeMap<>();
    for (String table : marker.rowCounts().keySet()) {
      Integer layer = layerOfTable(table);
      if (layer != null) {
        out.put(layer, root.committedPath(STAGE, table));
      }
    }
    return out;
  }

  /**
   * The committed transcoder of one layer.
   *
   * @throws FileNotFoundException when the train stage made none for that layer (the message lists those it made)
   */
  public static Transcoder loadCommitted(RunRoot root, int layer, Device device) throws IOException {
    Map<Integer, org.apache.hadoop.fs.Path> layers = committedLayers(root);
    org.apache.hadoop.fs.Path dir = layers.get(layer);
    if (dir == null) {
      throw new FileNotFoundException(String.format(
          "the train stage under %s made no transcoder for layer %d; it made layers %s", root.uri(), layer,
          layers.keySet()));
    }
    return load(dir, root.hadoop(), device);
  }

  /** Reads a transcoder folder on any Hadoop file system. */
  public static Transcoder load(org.apache.hadoop.fs.Path dir, Configuration conf, Device device) throws IOException {
    Path local = HadoopFolders.local(dir, conf);
    try {
      return Transcoder.load(local, device);
    } finally {
      HadoopFolders.deleteCopy(local, dir, conf);
    }
  }

  /** Writes a transcoder folder on any Hadoop file system; {@code cfg.json} lands last. */
  public static void save(Transcoder transcoder, org.apache.hadoop.fs.Path dir, Configuration conf)
      throws IOException {
    Path local = Files.createTempDirectory("cellcircuits-transcoder-");
    try {
      transcoder.save(local);
      HadoopFolders.publish(local, dir, Transcoder.CONFIG_FILE, conf);
    } finally {
      HadoopFolders.deleteRecursively(local);
    }
  }
}
