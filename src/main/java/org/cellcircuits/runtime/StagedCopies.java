package org.cellcircuits.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.spark.SparkEnv;
import org.apache.spark.SparkFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Local copies of remote .h5ad files, one per executor JVM.
 *
 * <p>jhdf reads HDF5 through random access (memory-mapped or positioned reads on a local file, an in-memory
 * buffer, or a {@code SeekableByteChannel}); an .h5ad open touches many small metadata blocks scattered through the
 * file before it reads any counts. Copying the file once per executor with one sequential stream and letting every
 * task of that JVM open the local copy turns those scattered small reads into local disk reads.
 * {@link AtlasOptions.RemoteAccess#RANGE} is the alternative that needs no local disk.
 *
 * <p>A copy is keyed by path, length and modification time, so a changed file is copied again. It lives in
 * Spark's per-application files folder when running inside Spark (removed when the executor stops), otherwise in
 * java.io.tmpdir, and is deleted when the JVM exits.
 */
public final class StagedCopies {
  private static final Logger LOG = LoggerFactory.getLogger(StagedCopies.class);
  private static final Map<String, Path> COPIES = new ConcurrentHashMap<>();

  private StagedCopies() {
  }

  public static Path localCopy(FileStatus status, Configuration conf) throws IOException {
    String key = HadoopFiles.fingerprint(status);
    Path existing = COPIES.get(key);
    if (existing != null && Files.size(existing) == status.getLen()) {
      return existing;
    }
    synchronized (StagedCopies.class) {
      existing = COPIES.get(key);
      if (existing != null && Files.size(existing) == status.getLen()) {
        return existing;
      }
      Path copy = copy(status, conf);
      COPIES.put(key, copy);
      return copy;
    }
  }

  private static Path copy(FileStatus status, Configuration conf) throws IOException {
    Path dir = stagingDir();
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir);
      dir.toFile().deleteOnExit(); // registered before its files, so removed after them
    }
    String name = Integer.toHexString(HadoopFiles.fingerprint(status).hashCode()) + "-" + status.getPath().getName();
    Path target = dir.resolve(name);
    Path partial = Files.createTempFile(dir, name, ".partial");
    long t0 = System.nanoTime();
    try (FSDataInputStream in = status.getPath().getFileSystem(conf).open(status.getPath());
         InputStream buffered = new java.io.BufferedInputStream(in, 1 << 20)) {
      Files.copy(buffered, partial, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      Files.deleteIfExists(partial);
      throw new IOException(String.format("atlas %s: staging a local copy in %s failed: %s", status.getPath(), dir,
          e.getMessage()), e);
    }
    long copied = Files.size(partial);
    if (copied != status.getLen()) {
      Files.deleteIfExists(partial);
      throw new IOException(String.format("atlas %s: staged copy has %d bytes; expected %d (file changed while "
          + "copying?)", status.getPath(), copied, status.getLen()));
    }
    Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    target.toFile().deleteOnExit();
    LOG.info("staged {} ({} bytes) at {} in {} ms", status.getPath(), copied, target,
        (System.nanoTime() - t0) / 1_000_000);
    return target;
  }

  private static Path stagingDir() {
    if (SparkEnv.get() != null) {
      return Path.of(SparkFiles.getRootDirectory(), "cellcircuits-atlas");
    }
    return Path.of(System.getProperty("java.io.tmpdir"), "cellcircuits-atlas-" + ProcessHandle.current().pid());
  }

  /** For tests: forget the copies (the files stay until the JVM exits). */
  public static void forget() {
    COPIES.clear();
  }
}
