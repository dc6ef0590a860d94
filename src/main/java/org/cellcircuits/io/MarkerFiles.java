package org.cellcircuits.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;

/**
 * Reads and writes commit markers so that a reader sees either the previous complete marker or the new complete one,
 * never a partial file.
 *
 * <ul>
 *   <li>Object stores that publish an object only when its upload completes (S3 through s3a, GCS, OSS): one PUT at
 *       {@code close()} is atomic for readers, and a rename would be a copy plus a delete, which is not.
 *   <li>Everything else (local disk, HDFS, ABFS...): write a temp file beside the marker, then rename that single file
 *       over the marker. POSIX rename(2) and HDFS rename with OVERWRITE replace the destination atomically.
 * </ul>
 */
final class MarkerFiles {
  /** Schemes whose output stream makes the object visible only when it is closed, all at once. */
  private static final Set<String> PUT_ON_CLOSE = Set.of("s3a", "s3", "s3n", "gs", "oss");

  /** Infix of {@link #replace}'s temp files: {@code <name>.tmp-<random>}. */
  static final String TEMP = ".tmp-";
  /** The marker's temp files, deleted when the stage next starts. */
  static final String TEMP_PREFIX = RunRoot.MARKER + TEMP;

  private MarkerFiles() {}

  static Optional<StageMarker> read(FileSystem fs, Path marker, String expectedStage) throws IOException {
    byte[] bytes;
    try (InputStream in = raw(fs).open(marker)) {
      bytes = in.readAllBytes();
    } catch (FileNotFoundException e) {
      return Optional.empty();
    }
    StageMarker parsed;
    try {
      parsed = StageMarker.fromJson(new String(bytes, StandardCharsets.UTF_8), marker.toString());
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage(), e);
    }
    if (!parsed.stage().equals(expectedStage)) {
      throw new IOException(String.format(
          "marker %s names stage '%s'; expected '%s' (was it copied from another stage folder?)",
          marker, parsed.stage(), expectedStage));
    }
    return Optional.of(parsed);
  }

  static void write(FileSystem fs, Path marker, StageMarker content) throws IOException {
    replace(fs, marker, content.toJson().getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Replaces a small file whole, so that a reader sees the old bytes or the new ones: one PUT on object stores, a temp
   * file renamed over the target elsewhere. Used for the marker, the lease and the digest cache.
   */
  static void replace(FileSystem fs, Path file, byte[] bytes) throws IOException {
    FileSystem target = raw(fs);
    String scheme = file.toUri().getScheme();
    if (scheme != null && PUT_ON_CLOSE.contains(scheme.toLowerCase(Locale.ROOT))) {
      try (OutputStream out = target.create(file, true)) {
        out.write(bytes);
      }
      return;
    }
    Path temp = new Path(file.getParent(), file.getName() + TEMP + UUID.randomUUID());
    try {
      try (OutputStream out = target.create(temp, true)) {
        out.write(bytes);
      }
      // FileSystem.rename replaces an existing destination on local disk (rename(2)) but refuses on HDFS; there the
      // FileContext rename with OVERWRITE is the atomic replace.
      if (!target.rename(temp, file)) {
        FileContext.getFileContext(target.getUri(), target.getConf()).rename(temp, file, Options.Rename.OVERWRITE);
      }
    } catch (IOException | RuntimeException e) {
      try {
        target.delete(temp, false); // a failed write leaves no temporary file beside the marker or lease
      } catch (IOException | RuntimeException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
  }

  /** Whether the scheme's output stream publishes the object whole on close (S3, GCS, OSS). */
  static boolean putOnClose(Path path) {
    String scheme = path.toUri().getScheme();
    return scheme != null && PUT_ON_CLOSE.contains(scheme.toLowerCase(Locale.ROOT));
  }

  /**
   * The file system without a client-side checksum layer: the local file system keeps a {@code .crc} file beside each
   * file and renames it separately, so for a moment the new marker would sit next to the old marker's checksum.
   */
  static FileSystem raw(FileSystem fs) {
    return fs instanceof ChecksumFileSystem checksummed ? checksummed.getRawFileSystem() : fs;
  }
}
