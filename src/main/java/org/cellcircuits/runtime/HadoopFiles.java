package org.cellcircuits.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkEnv;
import org.apache.spark.deploy.SparkHadoopUtil;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/** Opening atlas files through the Hadoop FileSystem API, so that s3a://, hdfs:// and local paths all work. */
public final class HadoopFiles {
  private HadoopFiles() {
  }

  /** A path without a scheme, or with file:, is on a local disk and can be opened directly. */
  public static boolean isLocal(String path) {
    String scheme = scheme(path);
    return scheme == null || scheme.equals("file");
  }

  public static java.nio.file.Path localPath(String path) {
    String scheme = scheme(path);
    if (scheme == null) {
      return java.nio.file.Path.of(path);
    }
    return java.nio.file.Path.of(URI.create(path));
  }

  private static String scheme(String path) {
    try {
      String s = new URI(path).getScheme();
      // a one-letter scheme is a Windows drive letter, not a file system
      return s == null || s.length() == 1 ? null : s;
    } catch (URISyntaxException e) {
      return null;
    }
  }

  /**
   * The Hadoop configuration a task should use: inside Spark (driver or executor) Spark's own, which carries every
   * {@code spark.hadoop.*} setting such as S3 credentials providers; outside Spark the default one. The extra
   * settings go on top.
   */
  public static Configuration configuration(Map<String, String> extra) {
    SparkEnv env = SparkEnv.get();
    Configuration conf = env != null ? SparkHadoopUtil.get().newConfiguration(env.conf()) : new Configuration();
    extra.forEach(conf::set);
    return conf;
  }

  /** @throws FileNotFoundException when nothing is at {@code path} */
  public static FileStatus status(String path, Configuration conf) throws IOException {
    Path p = new Path(path);
    return p.getFileSystem(conf).getFileStatus(p);
  }

  public static FileSystem fileSystem(String path, Configuration conf) throws IOException {
    return new Path(path).getFileSystem(conf);
  }

  /** Opens a file for sequential reading, un-gzipping it when its name ends in .gz. */
  public static InputStream openText(Path path, Configuration conf) throws IOException {
    InputStream in = path.getFileSystem(conf).open(path);
    return path.getName().endsWith(".gz") ? new GZIPInputStream(in, 1 << 16) : in;
  }

  /** What identifies a file's content for caches: path, length and modification time. */
  public static String fingerprint(FileStatus st) {
    return st.getPath() + "|" + st.getLen() + "|" + st.getModificationTime();
  }
}
