package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.util.Progressable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HadoopFoldersTest {
  @TempDir java.nio.file.Path tmp;

  /**
   * A process that dies while the last file is being written must not leave that file under its name: readers take
   * its presence for "the folder is complete" (a killed train driver left a truncated trainer_state.json, and the
   * rerun failed to parse it instead of resuming from the checkpoint before).
   */
  @Test
  void theLastFileNeverAppearsCutOff() throws Exception {
    java.nio.file.Path local = folder("local", "weights.bin", "0123456789", "state.json", "{\"step\": 4}");
    Configuration conf = new Configuration();
    conf.set("fs.cutoff.impl", CutOffFileSystem.class.getName());
    conf.setBoolean("fs.cutoff.impl.disable.cache", true);
    Path remote = new Path("cutoff://" + tmp.resolve("remote").toAbsolutePath());

    assertThatThrownBy(() -> HadoopFolders.publish(local, remote, "state.json", conf))
        .isInstanceOf(IOException.class).hasMessageContaining("cut off");

    java.nio.file.Path written = tmp.resolve("remote");
    assertThat(Files.readString(written.resolve("weights.bin"))).as("the files before the last").isEqualTo("0123456789");
    assertThat(written.resolve("state.json")).as("the cut-off last file under its name").doesNotExist();
    assertThat(names(written)).as("nothing else left behind").containsExactly("weights.bin");
  }

  @Test
  void aRepublishReplacesTheLastFileAndItReadsBackThroughTheChecksummedLocalFileSystem() throws Exception {
    Configuration conf = new Configuration();
    Path remote = new Path(tmp.resolve("remote").toUri());
    FileSystem fs = remote.getFileSystem(conf);
    // an earlier plain copy leaves a .crc beside the file; the replacement must not be checked against it
    fs.copyFromLocalFile(new Path(folder("old", "state.json", "{\"step\": 2, \"old\": true}").resolve("state.json")
        .toUri()), new Path(remote, "state.json"));
    assertThat(tmp.resolve("remote").resolve(".state.json.crc")).exists();

    HadoopFolders.publish(folder("new", "a.bin", "AB", "state.json", "{\"step\": 4}"), remote, "state.json", conf);

    try (InputStream in = fs.open(new Path(remote, "state.json"))) {
      assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("{\"step\": 4}");
    }
    assertThat(names(tmp.resolve("remote")).stream().filter(n -> !n.endsWith(".crc")))
        .containsExactly("a.bin", "state.json");
  }

  private java.nio.file.Path folder(String name, String... namesAndContents) throws IOException {
    java.nio.file.Path dir = Files.createDirectories(tmp.resolve(name));
    for (int i = 0; i < namesAndContents.length; i += 2) {
      Files.writeString(dir.resolve(namesAndContents[i]), namesAndContents[i + 1], StandardCharsets.UTF_8);
    }
    return dir;
  }

  private static java.util.List<String> names(java.nio.file.Path dir) throws IOException {
    try (Stream<java.nio.file.Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** The local file system under {@code cutoff:}, where writing any file named {@code state.json*} dies half-way. */
  public static final class CutOffFileSystem extends RawLocalFileSystem {
    @Override
    public URI getUri() {
      return URI.create("cutoff:///");
    }

    @Override
    public String getScheme() {
      return "cutoff";
    }

    @Override
    public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
        Progressable progress) throws IOException {
      FSDataOutputStream out = super.create(f, overwrite, bufferSize, replication, blockSize, progress);
      if (!f.getName().startsWith("state.json")) {
        return out;
      }
      OutputStream dying = new OutputStream() {
        @Override
        public void write(int b) throws IOException {
          write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len / 2);
          out.flush();
          throw new IOException("cut off after " + len / 2 + " of " + len + " bytes of " + f);
        }

        @Override
        public void close() throws IOException {
          out.close();
        }
      };
      return new FSDataOutputStream(dying, null);
    }
  }
}
