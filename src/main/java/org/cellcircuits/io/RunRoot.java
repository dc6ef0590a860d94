package org.cellcircuits.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The folder (local path or {@code s3a://bucket/prefix}) that holds everything one run makes, one sub-folder per
 * stage:
 *
 * <pre>
 *   &lt;root&gt;/&lt;stage&gt;/attempt-&lt;id&gt;/&lt;table&gt;/...   data of one attempt
 *   &lt;root&gt;/&lt;stage&gt;/_COMMITTED.json               the marker naming the one attempt readers may see
 * </pre>
 *
 * <p>Readers resolve data only through the marker ({@link #committedPath}); they never list attempt folders, because a
 * folder without a marker may be half written by a crashed or running attempt.
 *
 * <p>The handle is serializable so that it can travel to Spark executors: it carries only the qualified root URI.
 * The Hadoop {@link Configuration} (credentials, endpoints) is not serializable and stays transient; on an executor
 * call {@link #withHadoop} with the configuration from a broadcast
 * {@code org.apache.spark.util.SerializableConfiguration}.
 */
public final class RunRoot implements Serializable {
  private static final long serialVersionUID = 1L;

  /** File name of the commit marker inside a stage folder. */
  public static final String MARKER = "_COMMITTED.json";

  /** Prefix of every attempt folder inside a stage folder. */
  public static final String ATTEMPT_PREFIX = "attempt-";

  /** Schemes whose URIs must name a bucket or container: "s3a:/prefix" is a typo, not a root. */
  private static final Set<String> OBJECT_STORES =
      Set.of("s3a", "s3", "s3n", "gs", "oss", "abfs", "abfss", "wasb", "wasbs");

  private static final Pattern STAGE_NAME = Pattern.compile("[a-z][a-z0-9_-]*");
  private static final Pattern ATTEMPT_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*");
  private static final Pattern TABLE_SEGMENT = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.=-]*");

  private final String uri;
  private transient Configuration hadoop;

  private RunRoot(String uri, Configuration hadoop) {
    this.uri = uri;
    this.hadoop = hadoop;
  }

  /**
   * Opens a run root. A path without a scheme is qualified against the default file system and the working
   * directory now, as Spark would (a local folder here; HDFS on a cluster whose fs.defaultFS is HDFS), so that every
   * component agrees on one location. A URI with a scheme is kept as given; no connection is made.
   *
   * @param location local path, {@code file:} URI or object-store URI such as {@code s3a://bucket/prefix}
   * @param hadoop the configuration that resolves the {@link FileSystem} (credentials, endpoints)
   */
  public static RunRoot of(String location, Configuration hadoop) throws IOException {
    Objects.requireNonNull(hadoop, "hadoop configuration");
    if (location == null || location.isBlank()) {
      throw new IllegalArgumentException("run root is empty; set cellcircuits.run.root or pass --root");
    }
    Path path = new Path(location.strip());
    URI uri = path.toUri();
    if (uri.getScheme() == null) {
      path = path.getFileSystem(hadoop).makeQualified(path);
    } else if (OBJECT_STORES.contains(uri.getScheme()) && (uri.getAuthority() == null || uri.getAuthority().isEmpty())) {
      throw new IllegalArgumentException(String.format(
          "run root %s has no bucket or host; expected e.g. %s://bucket/prefix", location, uri.getScheme()));
    }
    String text = path.toString();
    // "s3a://bucket/" and "s3a://bucket" name the same root; keep one form so that roots compare equal.
    while (text.endsWith("/") && new Path(text).getParent() != null) {
      text = text.substring(0, text.length() - 1);
    }
    return new RunRoot(text, hadoop);
  }

  /** The same root resolved through another configuration, e.g. on an executor after deserialization. */
  public RunRoot withHadoop(Configuration configuration) {
    return new RunRoot(uri, Objects.requireNonNull(configuration, "hadoop configuration"));
  }

  /** The qualified root, e.g. {@code file:/home/me/runs/demo} or {@code s3a://bucket/prefix}. */
  public String uri() {
    return uri;
  }

  public Path path() {
    return new Path(uri);
  }

  /** The configuration this handle resolves its file system with. */
  public Configuration hadoop() {
    if (hadoop == null) {
      throw new IllegalStateException(String.format(
          "run root %s was deserialized without its Hadoop configuration; call withHadoop(conf) first, with the "
              + "configuration from a broadcast org.apache.spark.util.SerializableConfiguration",
          uri));
    }
    return hadoop;
  }

  public FileSystem fileSystem() throws IOException {
    return path().getFileSystem(hadoop());
  }

  /** {@code <root>/<stage>}. */
  public Path stagePath(String stage) {
    return new Path(path(), requireStageName(stage));
  }

  /** {@code <root>/<stage>/_COMMITTED.json}. */
  public Path markerPath(String stage) {
    return new Path(stagePath(stage), MARKER);
  }

  /** {@code <root>/<stage>/attempt-<id>}. */
  public Path attemptPath(String stage, String attemptId) {
    if (attemptId == null || !ATTEMPT_ID.matcher(attemptId).matches()) {
      throw new IllegalArgumentException(String.format(
          "attempt id '%s' of stage %s is invalid: expected letters, digits, '-' or '_'", attemptId, stage));
    }
    return new Path(stagePath(stage), ATTEMPT_PREFIX + attemptId);
  }

  /** The stage's commit marker, or empty when the stage has never committed under this root. */
  public Optional<StageMarker> committed(String stage) throws IOException {
    try {
      return MarkerFiles.read(fileSystem(), markerPath(stage), stage);
    } catch (IOException e) {
      throw unreachable(e);
    }
  }

  /**
   * The exception as it is, unless the store could not be reached at all (connection refused or timed out, unknown
   * host): then one that names the root and the endpoint, which a bare "Connection refused" does not.
   */
  IOException unreachable(IOException e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof java.net.ConnectException || t instanceof java.net.SocketTimeoutException
          || t instanceof java.net.UnknownHostException || t instanceof java.net.NoRouteToHostException) {
        String scheme = path().toUri().getScheme();
        String endpoint = scheme == null ? null : hadoop.get("fs." + scheme + ".endpoint");
        // the original rides along as suppressed, not as the cause: the command line prints the deepest cause, and
        // that must be this line, not the bare "Connection refused"
        IOException x = new IOException(String.format("cannot reach the run root %s%s: %s (%s)", uri,
            endpoint == null || endpoint.isBlank() ? "" : " at endpoint " + endpoint, t.getMessage(),
            t.getClass().getSimpleName()));
        x.addSuppressed(e);
        return x;
      }
    }
    return e;
  }

  /**
   * The stage's commit marker.
   *
   * @throws StageNotCommittedException when the stage has no marker under this root
   */
  public StageMarker requireCommitted(String stage) throws IOException {
    return committed(stage)
        .orElseThrow(() -> new StageNotCommittedException(stage, uri, markerPath(stage).toString()));
  }

  /**
   * The committed attempt folder of a stage.
   *
   * @throws StageNotCommittedException when the stage has no marker under this root
   */
  public Path committedPath(String stage) throws IOException {
    return attemptPath(stage, requireCommitted(stage).attemptId());
  }

  /**
   * A table of the committed attempt, e.g. {@code committedPath("sentences", "sentences")}. The table must be one the
   * stage reported when it committed, so a reader cannot silently read a folder the stage never wrote.
   */
  public Path committedPath(String stage, String table) throws IOException {
    requireTableName(table);
    StageMarker marker = requireCommitted(stage);
    if (!marker.rowCounts().containsKey(table)) {
      throw new FileNotFoundException(String.format(
          "stage %s committed attempt %s under %s without a table '%s'; its tables are %s",
          stage, marker.attemptId(), uri, table, marker.rowCounts().keySet()));
    }
    return new Path(attemptPath(stage, marker.attemptId()), table);
  }

  static String requireStageName(String stage) {
    if (stage == null || !STAGE_NAME.matcher(stage).matches()) {
      throw new IllegalArgumentException(String.format(
          "stage name '%s' is invalid: expected lower-case letters, digits, '-' or '_', starting with a letter",
          stage));
    }
    return stage;
  }

  /** Table names are relative paths inside an attempt: segments of letters, digits, '_', '.', '=', '-'. */
  static String requireTableName(String table) {
    if (table == null || table.isEmpty()) {
      throw new IllegalArgumentException("table name is empty");
    }
    for (String segment : table.split("/", -1)) {
      if (!TABLE_SEGMENT.matcher(segment).matches() || segment.equals("..") || segment.equals(".")) {
        throw new IllegalArgumentException(String.format(
            "table name '%s' is invalid: expected '/'-separated segments of letters, digits, '_', '.', '=', '-'",
            table));
      }
    }
    return table;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RunRoot other && other.uri.equals(uri);
  }

  @Override
  public int hashCode() {
    return uri.hashCode();
  }

  @Override
  public String toString() {
    return uri;
  }
}
