package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.FileNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InputFingerprintsTest {
  private final Configuration hadoop = new Configuration();
  @TempDir Path tmp;

  @Test
  void aFileIsItsPathLengthAndModificationTime() throws Exception {
    Path atlas = Files.write(tmp.resolve("heart.h5ad"), new byte[] {1, 2, 3});
    Files.setLastModifiedTime(atlas, FileTime.fromMillis(1_700_000_000_000L));
    String fp = InputFingerprints.ofPath("atlas", atlas.toString(), hadoop);
    assertThat(fp).isEqualTo("path=file:" + atlas + " length=3 mtime=1700000000000");

    assertThat(InputFingerprints.ofPath("atlas", atlas.toString(), hadoop)).isEqualTo(fp);
    Files.setLastModifiedTime(atlas, FileTime.fromMillis(1_700_000_001_000L));
    assertThat(InputFingerprints.ofPath("atlas", atlas.toString(), hadoop)).isNotEqualTo(fp);
  }

  @Test
  void aFolderChangesWhenAFileIsAddedRenamedOrRewritten() throws Exception {
    Path model = Files.createDirectories(tmp.resolve("model"));
    Files.writeString(model.resolve("config.json"), "{}");
    Files.createDirectories(model.resolve("sub"));
    Files.writeString(model.resolve("sub/tokenizer.json"), "{\"v\":1}");
    FileTime t = FileTime.fromMillis(1_700_000_000_000L);
    Files.setLastModifiedTime(model.resolve("config.json"), t);
    Files.setLastModifiedTime(model.resolve("sub/tokenizer.json"), t);
    String fp = InputFingerprints.ofPath("model", model.toString(), hadoop);
    assertThat(fp).startsWith("path=file:" + model + " files=2 bytes=9 newest_mtime=1700000000000 listing_sha256=");
    assertThat(InputFingerprints.ofPath("model", model.toString(), hadoop)).isEqualTo(fp);

    Files.move(model.resolve("sub/tokenizer.json"), model.resolve("sub/tokenizer2.json"));
    Files.setLastModifiedTime(model.resolve("sub/tokenizer2.json"), t);
    String renamed = InputFingerprints.ofPath("model", model.toString(), hadoop);
    assertThat(renamed).isNotEqualTo(fp).startsWith("path=file:" + model + " files=2 bytes=9 newest_mtime=1700000000000");

    Files.writeString(model.resolve("extra.bin"), "");
    Files.setLastModifiedTime(model.resolve("extra.bin"), t);
    assertThat(InputFingerprints.ofPath("model", model.toString(), hadoop)).isNotEqualTo(renamed).contains("files=3");
  }

  @Test
  void anUpstreamStageIsItsAttemptAndConfigHash() {
    String hash = "ab".repeat(32);
    StageMarker m = new StageMarker(1, "sentences", "a1", hash, "{}", java.util.Map.of(), java.util.Map.of("s", 1L),
        java.util.Map.of(), java.time.Instant.EPOCH, new SoftwareVersions("x", "x", "x", "x"));
    assertThat(InputFingerprints.ofStage(m)).isEqualTo("attempt=a1 config=" + hash);
    assertThat(InputFingerprints.stageKey("sentences")).isEqualTo("stage:sentences");
  }

  @Test
  void aMissingInputIsNamed() {
    assertThatThrownBy(() -> InputFingerprints.ofPath("atlas", tmp.resolve("nope.h5ad").toString(), hadoop))
        .isInstanceOf(FileNotFoundException.class)
        .hasMessage("input atlas not found: " + tmp.resolve("nope.h5ad"));
  }
}
