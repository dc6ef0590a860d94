package org.cellcircuits.transcoder;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.cellcircuits.io.HadoopFolders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local folders a training task writes each checkpoint into before it is published to the run root, named by the
 * JVM's process id ({@code cellcircuits-checkpoint-<pid>-<random>}). A task deletes its own folder when it ends; a JVM
 * that was killed cannot, so each new folder first sweeps the folders of processes that no longer run (their pid is
 * gone from this machine). A folder of a running process, this one's included, is never touched.
 */
final class LocalCheckpointFolders {
  private static final Logger LOG = LoggerFactory.getLogger(LocalCheckpointFolders.class);
  static final String PREFIX = "cellcircuits-checkpoint-";
  private static final Pattern NAME = Pattern.compile(Pattern.quote(PREFIX) + "(\\d+)-.*");

  private LocalCheckpointFolders() {}

  /** A new empty folder under the system's temporary folder, after sweeping dead processes' leftovers there. */
  static Path create() throws IOException {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    sweep(tmp);
    return Files.createTempDirectory(tmp, PREFIX + ProcessHandle.current().pid() + "-");
  }

  /** Deletes the checkpoint folders under {@code parent} whose process is not running; returns them. */
  static List<Path> sweep(Path parent) {
    List<Path> removed = new ArrayList<>();
    try (DirectoryStream<Path> folders = Files.newDirectoryStream(parent, PREFIX + "*")) {
      for (Path f : folders) {
        Matcher m = NAME.matcher(f.getFileName().toString());
        if (!m.matches() || !Files.isDirectory(f)) {
          continue; // a folder of an older build (no pid in its name), or not ours: left alone
        }
        long pid;
        try {
          pid = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
          continue;
        }
        if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
          continue;
        }
        try {
          HadoopFolders.deleteRecursively(f);
          removed.add(f);
        } catch (IOException | RuntimeException e) {
          LOG.warn("cannot delete the leftover checkpoint folder {} of process {}: {}", f, pid, e.getMessage());
        }
      }
    } catch (IOException e) {
      LOG.warn("cannot list {} for leftover checkpoint folders: {}", parent, e.getMessage());
    }
    if (!removed.isEmpty()) {
      LOG.info("deleted {} checkpoint folders left by processes that no longer run: {}", removed.size(), removed);
    }
    return removed;
  }
}
