package org.cellcircuits.io;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.EtagSource;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Digests of input files already read, keyed by qualified path, length and modification time, so that a many-GB atlas
 * is hashed once and not on every run. Kept in {@code <root>/_fingerprints.json}:
 *
 * <pre>
 *   {"format_version": 1, "files": {"file:/data/heart.h5ad": {"length": 3, "mtime": 1700000000000,
 *                                                         "digest": "sha256:…"}}}
 * </pre>
 *
 * <p>An entry is used only while the file's length and modification time are the recorded ones; a rewritten or copied
 * file (new mtime) is read again. The file is a cache, not a record: deleting it costs one more read of each input, and
 * a cache that cannot be read is logged and ignored. Two runs saving at once may lose each other's new entries (a
 * re-read later), never corrupt one: the file is replaced whole ({@link MarkerFiles#replace}).
 *
 * <p>Not thread-safe; one per runner.
 */
public final class DigestCache {
  /** File name of the cache in the run root. */
  public static final String FILE = "_fingerprints.json";

  private static final Logger LOG = LoggerFactory.getLogger(DigestCache.class);
  private static final int FORMAT_VERSION = 1;
  private static final int BUFFER = 1 << 20;
  /** An S3 ETag that is the object's MD5: single-part upload, no SSE-KMS (multipart ETags end in -N). */
  private static final Pattern MD5_ETAG = Pattern.compile("[0-9a-f]{32}");

  private record Entry(long length, long mtime, String digest) {}

  private final Path file;
  private final FileSystem fs;
  private final Map<String, Entry> entries = new TreeMap<>();
  private final Map<String, Entry> added = new TreeMap<>();
  private long bytesRead;

  private DigestCache(FileSystem fs, Path file) {
    this.fs = fs;
    this.file = file;
  }

  /** A cache that lives only as long as this object (nothing is read or saved). */
  public static DigestCache inMemory() {
    return new DigestCache(null, null);
  }

  /** The run root's cache; empty when it has none yet or it cannot be read. */
  public static DigestCache of(RunRoot root) throws IOException {
    DigestCache cache = new DigestCache(MarkerFiles.raw(root.fileSystem()), new Path(root.path(), FILE));
    cache.entries.putAll(cache.read());
    return cache;
  }

  /**
   * The digest of one file's bytes: {@code md5:<hex>} when it is an S3 object whose ETag is its MD5, otherwise
   * {@code sha256:<hex>}, from this cache while the file's length and mtime are unchanged, else read from the file
   * (and remembered).
   */
  public String digest(FileSystem source, FileStatus status) throws IOException {
    String scheme = status.getPath().toUri().getScheme();
    if (status instanceof EtagSource tagged && "s3a".equals(scheme) && tagged.getEtag() != null) {
      String etag = tagged.getEtag().replace("\"", "").toLowerCase(Locale.ROOT);
      if (MD5_ETAG.matcher(etag).matches()) {
        return "md5:" + etag;
      }
    }
    String key = status.getPath().toString();
    Entry known = entries.get(key);
    if (known != null && known.length() == status.getLen() && known.mtime() == status.getModificationTime()) {
      return known.digest();
    }
    long t0 = System.nanoTime();
    MessageDigest sha = InputFingerprints.sha256();
    byte[] buffer = new byte[BUFFER];
    try (InputStream in = source.open(status.getPath())) {
      for (int n; (n = in.read(buffer)) > 0; ) {
        sha.update(buffer, 0, n);
      }
    }
    String digest = "sha256:" + HexFormat.of().formatHex(sha.digest());
    bytesRead += status.getLen();
    if (status.getLen() > 64L << 20) {
      LOG.info("hashed input file {} ({} bytes) in {} s", key, status.getLen(),
          String.format(Locale.ROOT, "%.1f", (System.nanoTime() - t0) / 1e9));
    }
    Entry entry = new Entry(status.getLen(), status.getModificationTime(), digest);
    entries.put(key, entry);
    added.put(key, entry);
    return digest;
  }

  /** Bytes read to compute digests since this cache was opened (0 when every digest came from the cache). */
  public long bytesRead() {
    return bytesRead;
  }

  /**
   * Writes the entries added since {@link #of} into the run root's cache file, merged with what it holds now (another
   * run may have added its own). Nothing is written when nothing was added.
   */
  public void save() throws IOException {
    if (file == null || added.isEmpty()) {
      return;
    }
    Map<String, Entry> merged = new TreeMap<>(read());
    merged.putAll(added);
    JsonObject files = new JsonObject();
    merged.forEach((k, e) -> {
      JsonObject o = new JsonObject();
      o.addProperty("length", e.length());
      o.addProperty("mtime", e.mtime());
      o.addProperty("digest", e.digest());
      files.add(k, o);
    });
    JsonObject root = new JsonObject();
    root.addProperty("format_version", FORMAT_VERSION);
    root.add("files", files);
    String json = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(root) + "\n";
    MarkerFiles.replace(fs, file, json.getBytes(StandardCharsets.UTF_8));
    added.clear();
  }

  private Map<String, Entry> read() throws IOException {
    Map<String, Entry> out = new TreeMap<>();
    byte[] bytes;
    try (InputStream in = fs.open(file)) {
      bytes = in.readAllBytes();
    } catch (FileNotFoundException e) {
      return out;
    }
    try {
      JsonObject o = JsonParser.parseString(new String(bytes, StandardCharsets.UTF_8)).getAsJsonObject();
      if (o.get("format_version").getAsInt() != FORMAT_VERSION) {
        LOG.warn("ignoring digest cache {}: format_version {} is not {}", file, o.get("format_version"),
            FORMAT_VERSION);
        return out;
      }
      for (Map.Entry<String, JsonElement> e : o.getAsJsonObject("files").entrySet()) {
        JsonObject v = e.getValue().getAsJsonObject();
        out.put(e.getKey(),
            new Entry(v.get("length").getAsLong(), v.get("mtime").getAsLong(), v.get("digest").getAsString()));
      }
    } catch (RuntimeException e) {
      // A cache only: inputs are read again and the file is rewritten on the next save.
      LOG.warn("ignoring unreadable digest cache {}: {}", file, e.toString());
      out.clear();
    }
    return out;
  }
}
