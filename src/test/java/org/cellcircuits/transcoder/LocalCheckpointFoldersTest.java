package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A killed training JVM's checkpoint folder is swept by the next one; a running process's folder is never touched. */
class LocalCheckpointFoldersTest {
  @TempDir Path tmp;

  @Test
  void sweepsOnlyTheFoldersOfProcessesThatNoLongerRun() throws Exception {
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    long deadPid = gone.pid();
    Path dead = Files.createDirectories(tmp.resolve(LocalCheckpointFolders.PREFIX + deadPid + "-123/step=200"))
        .getParent();
    Files.writeString(dead.resolve("step=200/trainer.json"), "{}");
    Path mine = Files.createDirectories(
        tmp.resolve(LocalCheckpointFolders.PREFIX + ProcessHandle.current().pid() + "-456"));
    Path older = Files.createDirectories(tmp.resolve(LocalCheckpointFolders.PREFIX + "789012345"));
    Path other = Files.createDirectories(tmp.resolve("someone-else-" + deadPid + "-1"));

    assertThat(LocalCheckpointFolders.sweep(tmp)).containsExactly(dead);
    assertThat(dead).doesNotExist();
    assertThat(mine).isDirectory();
    assertThat(older).as("an older build's folder, with no pid in its name").isDirectory();
    assertThat(other).isDirectory();
  }
}
