package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.FileNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InputFingerprintsTest {
  private final Configuration hadoop = new Configuration();
  @TempDir Path tmp;

  @Test
  void theListingFormOfOlderMarkersIsAFilesPathLengthAndModificationTime() throws Exception {
    Path atlas = Files.write(tmp.resolve("heart.h5ad"), new byte[] {1, 2, 3});
    Files.setLastModifiedTime(atlas, FileTime.fromMillis(1_700_000_000_000L));
    String fp = InputFingerprints.ofListing("atlas", atlas.toString(), hadoop);
    assertThat(fp).isEqualTo("path=file:" + atlas + " length=3 mtime=1700000000000");

    assertThat(InputFingerprints.ofListing("atlas", atlas.toString(), hadoop)).isEqualTo(fp);
    Files.setLastModifiedTime(atlas, FileTime.fromMillis(1_700_000_001_000L));
    assertThat(InputFingerprints.ofListing("atlas", atlas.toString(), hadoop)).isNotEqualTo(fp);
  }

  @Test
  void theListingFormOfAFolderChangesWhenAFileIsAddedRenamedOrRewritten() throws Exception {
    Path model = Files.createDirectories(tmp.resolve("model"));
    Files.writeString(model.resolve("config.json"), "{}");
    Files.createDirectories(model.resolve("sub"));
    Files.writeString(model.resolve("sub/tokenizer.json"), "{\"v\":1}");
    FileTime t = FileTime.fromMillis(1_700_000_000_000L);
    Files.setLastModifiedTime(model.resolve("config.json"), t);
    Files.setLastModifiedTime(model.resolve("sub/tokenizer.json"), t);
    String fp = InputFingerprints.ofListing("model", model.toString(), hadoop);
    assertThat(fp).startsWith("path=file:" + model + " files=2 bytes=9 newest_mtime=1700000000000 listing_sha256=");
    assertThat(InputFingerprints.ofListing("model", model.toString(), hadoop)).isEqualTo(fp);

    Files.move(model.resolve("sub/tokenizer.json"), model.resolve("sub/tokenizer2.json"));
    Files.setLastModifiedTime(model.resolve("sub/tokenizer2.json"), t);
    String renamed = InputFingerprints.ofListing("model", model.toString(), hadoop);
    assertThat(renamed).isNotEqualTo(fp).startsWith("path=file:" + model + " files=2 bytes=9 newest_mtime=1700000000000");

    Files.writeString(model.resolve("extra.bin"), "");
    Files.setLastModifiedTime(model.resolve("extra.bin"), t);
    assertThat(InputFingerprints.ofListing("model", model.toString(), hadoop)).isNotEqualTo(renamed).contains("files=3");
  }

  private String content(String name, Path location, DigestCache cache) throws Exception {
    return InputFingerprints.ofContent(name, location.toString(), hadoop, cache);
  }

  private static void copyFolder(Path from, Path to, long mtime) throws Exception {
    try (var files = Files.walk(from)) {
      for (Path f : files.toList()) {
        Path target = to.resolve(from.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(target);
        } else {
          Files.copy(f, target);
          Files.setLastModifiedTime(target, FileTime.fromMillis(mtime));
        }
      }
    }
  }

  @Test
  void aFileIsItsBytesWhereverItLivesAndWhenever() throws Exception {
    Path atlas = Files.write(tmp.resolve("heart.h5ad"), new byte[] {1, 2, 3});
    String fp = content("atlas", atlas, DigestCache.inMemory());
    // sha256 of the bytes 01 02 03
    assertThat(fp).isEqualTo(
        "content=sha256:039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81 bytes=3");

    Path copy = Files.copy(atlas, Files.createDirectories(tmp.resolve("elsewhere")).resolve("renamed.h5ad"));
    Files.setLastModifiedTime(copy, FileTime.fromMillis(1_800_000_000_000L));
    assertThat(content("atlas", copy, DigestCache.inMemory())).isEqualTo(fp);

    Files.write(copy, new byte[] {1, 2, 4});
    assertThat(content("atlas", copy, DigestCache.inMemory())).isNotEqualTo(fp).endsWith(" bytes=3");
  }

  @Test
  void aFolderIsItsFilesRelativePathsAndBytes() throws Exception {
    Path model = Files.createDirectories(tmp.resolve("model"));
    Files.writeString(model.resolve("config.json"), "{}");
    Files.write(model.resolve("model.safetensors"), new byte[] {9, 8, 7, 6});
    Files.createDirectories(model.resolve("sub"));
    Files.writeString(model.resolve("sub/tokenizer.json"), "{\"v\":1}");
    String fp = content("model", model, DigestCache.inMemory());
    assertThat(fp).matches("content=sha256:[0-9a-f]{64} files=3 bytes=13");

    copyFolder(model, tmp.resolve("copied"), 1_800_000_000_000L);
    assertThat(content("model", tmp.resolve("copied"), DigestCache.inMemory())).isEqualTo(fp);

    Files.move(tmp.resolve("copied/sub/tokenizer.json"), tmp.resolve("copied/sub/tokenizer2.json"));
    assertThat(content("model", tmp.resolve("copied"), DigestCache.inMemory())).isNotEqualTo(fp);
    Files.move(tmp.resolve("copied/sub/tokenizer2.json"), tmp.resolve("copied/sub/tokenizer.json"));
    Files.write(tmp.resolve("copied/model.safetensors"), new byte[] {9, 8, 7, 5});
    assertThat(content("model", tmp.resolve("copied"), DigestCache.inMemory())).isNotEqualTo(fp)
        .endsWith("files=3 bytes=13");
  }

  @Test
  void aFileIsReadOnceWhileItsLengthAndMtimeAreUnchangedAndACopyIsReadAgainAndFoundEqual() throws Exception {
    RunRoot root = RunRoot.of(tmp.resolve("run").toString(), hadoop);
    Path atlas = Files.write(tmp.resolve("heart.h5ad"), new byte[1000]);
    DigestCache first = DigestCache.of(root);
    String fp = content("atlas", atlas, first);
    assertThat(first.bytesRead()).isEqualTo(1000);
    first.save();
    assertThat(tmp.resolve("run").resolve(DigestCache.FILE)).exists();

    DigestCache second = DigestCache.of(root);
    assertThat(content("atlas", atlas, second)).isEqualTo(fp);
    assertThat(second.bytesRead()).as("served from %s", DigestCache.FILE).isZero();

    // same bytes, new mtime: read again, same fingerprint
    Files.setLastModifiedTime(atlas, FileTime.fromMillis(1_800_000_000_000L));
    assertThat(content("atlas", atlas, second)).isEqualTo(fp);
    assertThat(second.bytesRead()).isEqualTo(1000);

    // a damaged cache is ignored, not trusted
    Files.writeString(tmp.resolve("run").resolve(DigestCache.FILE), "{not json");
    DigestCache third = DigestCache.of(root);
    assertThat(content("atlas", atlas, third)).isEqualTo(fp);
    assertThat(third.bytesRead()).isEqualTo(1000);
  }

  @Test
  void differencesNameTheInputAndTheUpstreamAttempt() {
    String a = "ab".repeat(32);
    String b = "cd".repeat(32);
    assertThat(InputFingerprints.differences(
        Map.of("stage:harvest", "attempt=A config=" + a, "model", "content=sha256:" + a + " files=3 bytes=9",
            "atlas", "path=file:/x.h5ad length=3 mtime=1", "same", "x"),
        Map.of("stage:harvest", "attempt=B config=" + a, "model", "content=sha256:" + b + " files=3 bytes=9",
            "atlas", "content=sha256:" + b + " bytes=3", "same", "x")))
        .containsExactly(
            "input atlas: path=file:/x.h5ad length=3 mtime=1 (by path and mtime, from an older cellcircuits) -> "
                + "content=sha256:cdcdcdcdcdcd… bytes=3",
            "input model: content=sha256:abababababab… files=3 bytes=9 -> content=sha256:cdcdcdcdcdcd… files=3 bytes=9",
            "upstream harvest: attempt A -> B");
    assertThat(InputFingerprints.differences(Map.of("stage:up", "attempt=A config=" + a),
        Map.of("stage:up", "attempt=B config=" + b)))
        .containsExactly("upstream up: attempt A -> B, config abababababab… -> cdcdcdcdcdcd…");
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
    assertThatThrownBy(() -> InputFingerprints.ofListing("atlas", tmp.resolve("nope.h5ad").toString(), hadoop))
        .isInstanceOf(FileNotFoundException.class)
        .hasMessage("input atlas not found: " + tmp.resolve("nope.h5ad"));
  }
}
