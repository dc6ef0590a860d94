package org.cellcircuits.runtime;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkEnv;
import org.apache.spark.SparkFiles;
import org.cellcircuits.io.InputFingerprints;
import org.cellcircuits.model.NeoXConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A model checkpoint folder as the harvest uses it: found on local disk (copied there once per JVM when it lives on an
 * object store, since the model reads its safetensors by memory mapping) and checked before any cell is run.
 */
public final class ModelFolder {
  private static final Logger LOG = LoggerFactory.getLogger(ModelFolder.class);
  private static final Map<String, Path> COPIES = new ConcurrentHashMap<>();

  private ModelFolder() {}

  /**
   * The folder on local disk: the path itself for a local path or {@code file:} URI, otherwise a copy of the folder's
   * files made once per JVM (in Spark's per-application folder on an executor) and reused while the folder's
   * fingerprint (files, lengths, modification times) is unchanged.
   */
  public static Path local(String location, Configuration conf) throws IOException {
    String scheme = scheme(location);
    if (scheme == null) {
      return Path.of(location);
    }
    if (scheme.equals("file")) {
      return Path.of(URI.create(location));
    }
    String fingerprint = InputFingerprints.ofListing("model", location, conf);
    Path copy = COPIES.get(fingerprint);
    if (copy != null && Files.isDirectory(copy)) {
      return copy;
    }
    synchronized (COPIES) {
      copy = COPIES.get(fingerprint);
      if (copy == null || !Files.isDirectory(copy)) {
        copy = copy(location, conf, sha256(fingerprint).substring(0, 16));
        COPIES.put(fingerprint, copy);
      }
      return copy;
    }
  }

  private static Path copy(String location, Configuration conf, String key) throws IOException {
    org.apache.hadoop.fs.Path remote = new org.apache.hadoop.fs.Path(location);
    FileSystem fs = remote.getFileSystem(conf);
    Path base = SparkEnv.get() != null
        ? Path.of(SparkFiles.getRootDirectory(), "cellcircuits-model")
        : Path.of(System.getProperty("java.io.tmpdir"), "cellcircuits-model-" + ProcessHandle.current().pid());
    Path target = base.resolve(key);
    Path partial = Files.createDirectories(base).resolve(key + ".partial");
    Files.createDirectories(partial);
    long t0 = System.nanoTime();
    long bytes = 0;
    for (FileStatus f : fs.listStatus(remote)) {
      if (f.isFile()) {
        fs.copyToLocalFile(false, f.getPath(), new org.apache.hadoop.fs.Path(partial.resolve(f.getPath().getName()).toUri()), true);
        bytes += f.getLen();
      }
    }
    Files.move(partial, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    LOG.info("model {}: copied {} bytes to {} in {} ms", location, bytes, target, (System.nanoTime() - t0) / 1_000_000);
    return target;
  }

  /**
   * Reads {@code config.json} and checks that the model can run this tokenizer's ids: every id in
   * {@code tokenizer.json} (its vocabulary and added tokens) must be below the model's {@code vocab_size}.
   *
   * @throws IllegalArgumentException naming both files and the ids when the vocabulary does not cover the tokenizer
   */
  public static NeoXConfig checkedConfig(Path dir) {
    Path configJson = dir.resolve("config.json");
    if (!Files.isRegularFile(configJson)) {
      throw new IllegalArgumentException(String.format(
          "model folder %s has no config.json; expected a HuggingFace checkpoint folder", dir));
    }
    NeoXConfig config = NeoXConfig.read(configJson);
    Path tokenizer = dir.resolve("tokenizer.json");
    int tokens = tokenizerSize(tokenizer);
    if (tokens > config.vocabSize()) {
      throw new IllegalArgumentException(String.format(
          "model %s: vocab_size %d in config.json does not cover %s, whose token ids go up to %d; the checkpoint "
              + "and the tokenizer do not belong together",
          dir, config.vocabSize(), tokenizer, tokens - 1));
    }
    return config;
  }

  /** One more than the largest token id of a HuggingFace {@code tokenizer.json} (vocabulary and added tokens). */
  public static int tokenizerSize(Path tokenizerJson) {
    JsonObject root = parse(tokenizerJson);
    long max = -1;
    JsonElement model = root.get("model");
    JsonElement vocab = model != null && model.isJsonObject() ? model.getAsJsonObject().get("vocab") : null;
    if (vocab == null) {
      throw new IllegalArgumentException(tokenizerJson + " has no model.vocab");
    }
    if (vocab.isJsonObject()) {
      for (Map.Entry<String, JsonElement> e : vocab.getAsJsonObject().entrySet()) {
        max = Math.max(max, e.getValue().getAsLong());
      }
    } else if (vocab.isJsonArray()) {
      max = vocab.getAsJsonArray().size() - 1; // Unigram: the id is the position
    }
    JsonElement added = root.get("added_tokens");
    if (added != null && added.isJsonArray()) {
      for (JsonElement t : (JsonArray) added) {
        max = Math.max(max, t.getAsJsonObject().get("id").getAsLong());
      }
    }
    return Math.toIntExact(max + 1);
  }

  /** Ids of the added tokens a {@code tokenizer.json} marks special (end-of-text, padding, BOS...). */
  public static Set<Long> specialTokenIds(Path tokenizerJson) {
    Set<Long> ids = new HashSet<>();
    JsonElement added = parse(tokenizerJson).get("added_tokens");
    if (added != null && added.isJsonArray()) {
      for (JsonElement t : (JsonArray) added) {
        JsonObject o = t.getAsJsonObject();
        if (o.has("special") && o.get("special").getAsBoolean()) {
          ids.add(o.get("id").getAsLong());
        }
      }
    }
    return Set.copyOf(ids);
  }

  private static JsonObject parse(Path tokenizerJson) {
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new IllegalArgumentException(String.format("model folder %s has no tokenizer.json",
          tokenizerJson.getParent()));
    }
    try {
      return JsonParser.parseString(Files.readString(tokenizerJson, StandardCharsets.UTF_8)).getAsJsonObject();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + tokenizerJson, e);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(tokenizerJson + " is not a JSON object: " + e.getMessage(), e);
    }
  }

  private static String scheme(String location) {
    try {
      String s = new URI(location).getScheme();
      return s == null || s.length() == 1 ? null : s;
    } catch (URISyntaxException e) {
      return null;
    }
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
