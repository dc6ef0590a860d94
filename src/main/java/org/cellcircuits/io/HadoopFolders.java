package org.cellcircuits.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;

/**
 * Moves small folders of files (a transcoder, a training checkpoint) between local disk and a run root on any Hadoop
 * file system. Code that reads with memory maps or {@code java.nio} writes locally, then publishes; a reader copies
 * down first when the folder is not local. The publish uploads one named file last, and that file appears whole or
 * not at all, so a reader that waits for it never sees a half-written folder.
 */
public final class HadoopFolders {
  private HadoopFolders() {}

  /**
   * Uploads every regular file of {@code local} into {@code remote}, {@code lastFile} after all others, replacing
   * files of the same name.
   *
   * @throws IllegalArgumentException when {@code local} has no {@code lastFile}
   */
  public static void publish(Path local, org.apache.hadoop.fs.Path remote, String lastFile, Configuration conf)
      throws IOException {
    if (!Files.isRegularFile(local.resolve(lastFile))) {
      throw new IllegalArgumentException(String.format("%s has no %s to publish last", local, lastFile));
    }
    FileSystem fs = remote.getFileSystem(conf);
    fs.mkdirs(remote);
    List<Path> files = new ArrayList<>();
    try (Stream<Path> s = Files.list(local)) {
      s.filter(Files::isRegularFile).sorted(Comparator.comparing(Path::toString)).forEach(files::add);
    }
    files.sort(Comparator.comparing(p -> p.getFileName().toString().equals(lastFile)));
    for (Path f : files) {
      org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(remote, f.getFileName().toString());
      if (f.getFileName().toString().equals(lastFile)) {
        publishWhole(fs, f, target);
      } else {
        fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(f.toUri()), target);
      }
    }
  }

  /**
   * Copies a file so that its name appears only once every byte is there. An object store's upload is like that
   * already, but on a local disk or HDFS a file exists from the moment it is created: a process killed mid-copy left a
   * truncated {@code trainer_state.json} that a resume took for a complete checkpoint. So it goes the way of the
   * commit marker ({@link MarkerFiles#replace}: one PUT, or a temporary file renamed over the target).
   */
  private static void publishWhole(FileSystem fs, Path source, org.apache.hadoop.fs.Path target) throws IOException {
    if (fs instanceof ChecksumFileSystem checksummed) {
      // replace writes past the checksum layer; a checksum left from an earlier copy would no longer match
      checksummed.getRawFileSystem().delete(checksummed.getChecksumFile(target), false);
    }
    MarkerFiles.replace(fs, target, Files.readAllBytes(source));
  }

  /**
   * The folder as a local path: itself when it is on the local file system, otherwise a copy of its files in a fresh
   * temporary folder that the caller deletes with {@link #deleteCopy}.
   */
  public static Path local(org.apache.hadoop.fs.Path remote, Configuration conf) throws IOException {
    FileSystem fs = remote.getFileSystem(conf);
    if (fs.getScheme().equals("file")) {
      return Path.of(fs.makeQualified(remote).toUri());
    }
    Path copy = Files.createTempDirectory("cellcircuits-copy-");
    for (FileStatus f : fs.listStatus(remote)) {
      if (f.isFile()) {
        fs.copyToLocalFile(false, f.getPath(),
            new org.apache.hadoop.fs.Path(copy.resolve(f.getPath().getName()).toUri()), true);
      }
    }
    return copy;
  }

  /** Deletes what {@link #local} copied; leaves a folder that was local all along. */
  public static void deleteCopy(Path local, org.apache.hadoop.fs.Path remote, Configuration conf) {
    try {
      if (!remote.getFileSystem(conf).getScheme().equals("file")) {
        deleteRecursively(local);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete the local copy " + local + " of " + remote, e);
    }
  }

  /** Deletes a local folder and everything in it; nothing when it does not exist. */
  public static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
