package org.cellcircuits.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * Short strings that change when a stage's input changes; a stage whose config hash and input fingerprints both
 * match its marker is skipped.
 *
 * <p>External files are fingerprinted by path, length and modification time, not by a content hash: an atlas or a
 * model checkpoint can be tens of GB on S3, and hashing it would read every byte (minutes, and egress cost) before the
 * stage could even decide to skip. Object stores never modify an object in place, so a rewrite shows as a new
 * modification time; this is the same test Hadoop and Spark use to invalidate their file caches. The price: a file
 * copied with its mtime preserved and changed content of equal length would go unnoticed.
 */
public final class InputFingerprints {
  private InputFingerprints() {}

  /** Input name for an upstream stage, e.g. {@code stage:sentences}. */
  public static String stageKey(String stage) {
    return "stage:" + RunRoot.requireStageName(stage);
  }

  /** An upstream stage's committed attempt: its id and config hash change whenever it is rebuilt. */
  public static String ofStage(StageMarker upstream) {
    return "attempt=" + upstream.attemptId() + " config=" + upstream.configHash();
  }

  /**
   * A file or folder: for a file its qualified path, length and modification time; for a folder the same summed over
   * every file below it, plus a SHA-256 of the sorted listing (relative path, length, mtime) so that a renamed,
   * added or removed file changes the fingerprint too.
   *
   * @throws FileNotFoundException naming the input when the path does not exist
   */
  public static String ofPath(String inputName, String location, Configuration hadoop) throws IOException {
    Path path = new Path(location);
    FileSystem fs = path.getFileSystem(hadoop);
    FileStatus status;
    try {
      status = fs.getFileStatus(path);
    } catch (FileNotFoundException e) {
      throw new FileNotFoundException(String.format("input %s not found: %s", inputName, location));
    }
    Path qualified = status.getPath();
    if (status.isFile()) {
      return String.format("path=%s length=%d mtime=%d", qualified, status.getLen(), status.getModificationTime());
    }
    List<String> lines = new ArrayList<>();
    long bytes = 0;
    long newest = 0;
    String prefix = qualified.toUri().getPath();
    RemoteIterator<LocatedFileStatus> files = fs.listFiles(qualified, true);
    while (files.hasNext()) {
      LocatedFileStatus f = files.next();
      String relative = f.getPath().toUri().getPath().substring(prefix.length());
      lines.add(relative + "\t" + f.getLen() + "\t" + f.getModificationTime());
      bytes += f.getLen();
      newest = Math.max(newest, f.getModificationTime());
    }
    lines.sort(null);
    return String.format("path=%s files=%d bytes=%d newest_mtime=%d listing_sha256=%s",
        qualified, lines.size(), bytes, newest, sha256(String.join("\n", lines)));
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }
}
