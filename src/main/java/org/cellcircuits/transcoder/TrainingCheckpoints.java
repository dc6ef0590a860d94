package org.cellcircuits.transcoder;

import ai.djl.Device;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.cellcircuits.io.HadoopFolders;

/**
 * Training checkpoints of the {@code train} stage in the run root: {@code <root>/train/checkpoints/layer=L/step=S/},
 * outside the stage's attempt folders so that they outlive a crashed attempt. Each holds what
 * {@link TrainerCheckpoint} writes plus {@code layout.json}, how the data was cut (a resume must read
 * it the same way). {@code trainer_state.json} is uploaded last, so a folder without it is an interrupted upload and
 * is ignored. Only the newest two checkpoints of a layer are kept, and none once the stage is committed
 * ({@link #deleteAll}).
 */
public final class TrainingCheckpoints implements Serializable {
  private static final long serialVersionUID = 1L;
  static final String LAYOUT_FILE = "layout.json";

  private final String root;

  /** @param root the checkpoints folder, {@code <run root>/train/checkpoints} */
  public TrainingCheckpoints(String root) {
    this.root = root;
  }

  public Path layerDir(int layer) {
    return new Path(root, "layer=" + layer);
  }

  /**
   * Deletes every layer's checkpoints, the whole folder: once the trained transcoders are committed nothing resumes
   * from them.
   *
   * @return bytes deleted (0 when there was no folder)
   */
  public long deleteAll(Configuration conf) throws IOException {
    Path dir = new Path(root);
    FileSystem fs = dir.getFileSystem(conf);
    if (!fs.exists(dir)) {
      return 0;
    }
    long bytes = fs.getContentSummary(dir).getLength();
    return fs.delete(dir, true) ? bytes : 0;
  }

  /** A resumable checkpoint: the trainer and how its data was cut. */
  public record Resumed(TranscoderTrainer trainer, JsonObject layout, long step) {}

  /**
   * The newest complete checkpoint of a layer as a trainer on {@code device}, or empty when there is none.
   *
   * @param discardOtherConfig delete the layer's checkpoints, and start over, when they were written with another
   *     training config (the stage passes its --overwrite)
   * @throws IllegalArgumentException when it was written with another training config and {@code discardOtherConfig}
   *     is false (the message lists the differences)
   */
  public Optional<Resumed> resumeLatest(int layer, TranscoderConfig config, Device device, Configuration conf,
      boolean discardOtherConfig) throws IOException {
    Optional<Path> latest = latest(layer, conf);
    if (latest.isEmpty()) {
      return Optional.empty();
    }
    java.nio.file.Path local = HadoopFolders.local(latest.get(), conf);
    try {
      TranscoderTrainer t;
      try {
        t = TranscoderTrainer.resume(local, config, device);
      } catch (IllegalArgumentException e) {
        if (!config.hash().equals(TrainerCheckpoint.config(local).hash())) {
          if (discardOtherConfig) {
            layerDir(layer).getFileSystem(conf).delete(layerDir(layer), true);
            return Optional.empty();
          }
          throw new IllegalArgumentException(e.getMessage() + ". To discard it, rerun the train stage with --overwrite",
              e);
        }
        throw e;
      }
      java.nio.file.Path layoutFile = local.resolve(LAYOUT_FILE);
      JsonObject layout = Files.isRegularFile(layoutFile)
          ? JsonParser.parseString(Files.readString(layoutFile, StandardCharsets.UTF_8)).getAsJsonObject()
          : new JsonObject();
      return Optional.of(new Resumed(t, layout, t.step()));
    } finally {
      HadoopFolders.deleteCopy(local, latest.get(), conf);
    }
  }

  /** Step folder of the newest complete checkpoint of a layer. */
  public Optional<Path> latest(int layer, Configuration conf) throws IOException {
    var steps = stepFolders(layer, conf, true);
    return steps.isEmpty() ? Optional.empty() : Optional.of(steps.lastEntry().getValue());
  }

  /** The layer's step folders by step; with {@code completeOnly}, only those whose trainer state was uploaded. */
  private TreeMap<Long, Path> stepFolders(int layer, Configuration conf, boolean completeOnly) throws IOException {
    Path dir = layerDir(layer);
    FileSystem fs = dir.getFileSystem(conf);
    TreeMap<Long, Path> out = new TreeMap<>();
    if (!fs.exists(dir)) {
      return out;
    }
    for (FileStatus s : fs.listStatus(dir)) {
      Matcher m = TrainerCheckpoint.STEP_DIR.matcher(s.getPath().getName());
      if (s.isDirectory() && m.matches()
          && (!completeOnly || fs.exists(new Path(s.getPath(), TrainerCheckpoint.STATE)))) {
        out.put(Long.parseLong(m.group(1)), s.getPath());
      }
    }
    return out;
  }

  /**
   * Writes {@code layout} beside a checkpoint just saved locally, uploads the folder as {@code step=S} of the layer
   * (trainer state last) and deletes all but the newest two checkpoints of the layer and the local folder.
   */
  public void publish(int layer, long step, java.nio.file.Path local, JsonObject layout, Configuration conf) {
    try {
      Files.writeString(local.resolve(LAYOUT_FILE), layout.toString(), StandardCharsets.UTF_8);
      Path target = new Path(layerDir(layer), "step=" + step);
      HadoopFolders.publish(local, target, TrainerCheckpoint.STATE, conf);
      HadoopFolders.deleteRecursively(local);
      // Keep the previous checkpoint too: if this upload were damaged unnoticed, one good checkpoint remains.
      NavigableMap<Long, Path> older = stepFolders(layer, conf, false).headMap(step, false);
      if (!older.isEmpty()) {
        older.pollLastEntry();
      }
      FileSystem fs = target.getFileSystem(conf);
      for (Path stale : older.values()) {
        fs.delete(stale, true);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(String.format("cannot publish the checkpoint of layer %d step %d to %s", layer,
          step, layerDir(layer)), e);
    }
  }

  @Override
  public String toString() {
    return root;
  }
}
