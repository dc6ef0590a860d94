package org.cellcircuits.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * Short strings that change when a stage's input changes; a stage whose config and input fingerprints both match its
 * marker is skipped.
 *
 * <p>External files and folders are fingerprinted by content ({@link #ofContent}): length plus a digest of the bytes,
 * never their path or modification time, so a copied run root, a re-uploaded model folder or an atlas copied to
 * another disk with the same bytes is the same input. Hashing a many-GB atlas reads every byte once; the digest is
 * then cached by (path, length, modification time) in the run root ({@link DigestCache}), so an unchanged file is
 * never read again and a copied one (new path, new mtime) is read once and found equal. Where the file system already
 * knows a content hash (an S3 ETag that is the MD5 of the object) it is used as is and nothing is read.
 *
 * <p>Markers written before content fingerprints recorded {@link #ofListing} (path, length and modification time,
 * starting {@code path=}); {@link #isListing} tells them apart, and the runner compares them by recomputing that form.
 */
public final class InputFingerprints {
  /** Start of every content fingerprint. */
  static final String CONTENT = "content=";
  /** Start of the fingerprints older builds wrote (path, length, modification time). */
  static final String LISTING = "path=";

  private static final Pattern STAGE_FP = Pattern.compile("attempt=(\\S+) config=(\\S+)");
  private static final Pattern LONG_HEX = Pattern.compile("\\b([0-9a-f]{12})[0-9a-f]{20,}\\b");

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
   * A file or folder by content. A file: {@code content=<digest> bytes=<length>}; a folder: {@code
   * content=sha256:<hex> files=<n> bytes=<total>}, where the hex is the SHA-256 of its sorted listing of (path
   * relative to the folder, length, file digest), so a renamed, added, removed or rewritten file changes it and the
   * folder's own path and times do not. A file digest is {@code sha256:<hex>} of its bytes, or {@code md5:<hex>}
   * where the file system reports an MD5 ETag ({@link DigestCache#digest}).
   *
   * @param cache where digests of files already read are kept; {@link DigestCache#inMemory()} for none
   * @throws FileNotFoundException naming the input when the path does not exist
   */
  public static String ofContent(String inputName, String location, Configuration hadoop, DigestCache cache)
      throws IOException {
    Path path = new Path(location);
    FileSystem fs = path.getFileSystem(hadoop);
    FileStatus status = status(fs, path, inputName, location);
    if (status.isFile()) {
      return CONTENT + cache.digest(fs, status) + " bytes=" + status.getLen();
    }
    List<String> lines = new ArrayList<>();
    long bytes = 0;
    String prefix = status.getPath().toUri().getPath();
    RemoteIterator<LocatedFileStatus> files = fs.listFiles(status.getPath(), true);
    while (files.hasNext()) {
      LocatedFileStatus f = files.next();
      String relative = f.getPath().toUri().getPath().substring(prefix.length());
      lines.add(relative + "\t" + f.getLen() + "\t" + cache.digest(fs, f));
      bytes += f.getLen();
    }
    lines.sort(null);
    return String.format("%ssha256:%s files=%d bytes=%d", CONTENT, sha256(String.join("\n", lines)), lines.size(),
        bytes);
  }

  /**
   * A file or folder by qualified path, length and modification time: what markers of older builds recorded, and a
   * cheap key for "has this folder changed since I copied it" ({@code ModelFolder}). For a folder the same summed over
   * every file below it, plus a SHA-256 of the sorted listing (relative path, length, mtime).
   *
   * @throws FileNotFoundException naming the input when the path does not exist
   */
  public static String ofListing(String inputName, String location, Configuration hadoop) throws IOException {
    Path path = new Path(location);
    FileSystem fs = path.getFileSystem(hadoop);
    FileStatus status = status(fs, path, inputName, location);
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

  /** Whether a recorded fingerprint is the path-and-mtime form of an older build ({@link #ofListing}). */
  public static boolean isListing(String fingerprint) {
    return fingerprint.startsWith(LISTING);
  }

  /**
   * The inputs that differ between a marker's record and this run, one line each, sorted by input: {@code upstream
   * harvest: attempt A -> B}, {@code input model: content=sha256:0123456789ab… files=3 bytes=9 -> …}; a recorded
   * path-and-mtime fingerprint is labelled as such. Empty when all are equal.
   */
  public static List<String> differences(Map<String, String> recorded, Map<String, String> now) {
    TreeSet<String> names = new TreeSet<>(recorded.keySet());
    names.addAll(now.keySet());
    List<String> lines = new ArrayList<>();
    for (String name : names) {
      String before = recorded.get(name);
      String after = now.get(name);
      if (before != null && before.equals(after)) {
        continue;
      }
      if (name.startsWith("stage:")) {
        lines.add("upstream " + name.substring("stage:".length()) + ": " + describeStages(before, after));
      } else {
        lines.add("input " + name + ": " + describe(before) + " -> " + describe(after));
      }
    }
    return lines;
  }

  /** {@code attempt A -> B}, with {@code , config X -> Y} when the upstream config changed too. */
  private static String describeStages(String before, String after) {
    Matcher a = before == null ? null : STAGE_FP.matcher(before);
    Matcher b = after == null ? null : STAGE_FP.matcher(after);
    if (a == null || b == null || !a.matches() || !b.matches()) {
      return describe(before) + " -> " + describe(after);
    }
    String text = "attempt " + a.group(1) + " -> " + b.group(1);
    return a.group(2).equals(b.group(2)) ? text
        : text + ", config " + abbreviate(a.group(2)) + " -> " + abbreviate(b.group(2));
  }

  private static String describe(String fp) {
    if (fp == null) {
      return "(absent)";
    }
    String text = abbreviate(fp);
    return isListing(fp) ? text + " (by path and mtime, from an older cellcircuits)" : text;
  }

  /** Long hex digests cut to their first 12 digits, as git abbreviates commits. */
  private static String abbreviate(String text) {
    return LONG_HEX.matcher(text).replaceAll("$1…");
  }

  private static FileStatus status(FileSystem fs, Path path, String inputName, String location) throws IOException {
    try {
      return fs.getFileStatus(path);
    } catch (FileNotFoundException e) {
      throw new FileNotFoundException(String.format("input %s not found: %s", inputName, location));
    }
  }

  static String sha256(String text) {
    return HexFormat.of().formatHex(sha256().digest(text.getBytes(StandardCharsets.UTF_8)));
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }
}
