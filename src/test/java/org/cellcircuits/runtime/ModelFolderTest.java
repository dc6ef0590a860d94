package org.cellcircuits.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.cellcircuits.harvest.HarvestFixtures;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.sentences.RemoteLikeFolders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Model folders on a non-local file system are copied once per JVM; vocabulary coverage is checked. */
class ModelFolderTest {
  @TempDir Path tmp;

  private static Configuration remoteLike() {
    return RemoteLikeFolders.configuration();
  }

  @Test
  void aRemoteFolderIsCopiedOnceAndAgainWhenItChanges() throws Exception {
    Path model = HarvestFixtures.model(tmp.resolve("model"), HarvestFixtures.TINY, 1);
    String uri = "remotelike://" + model.toAbsolutePath();
    Configuration conf = remoteLike();

    Path local = ModelFolder.local(uri, conf);
    assertThat(local).isNotEqualTo(model);
    for (String name : List.of("config.json", "model.safetensors", "tokenizer.json")) {
      assertThat(Files.mismatch(local.resolve(name), model.resolve(name))).as(name).isEqualTo(-1L);
    }
    assertThat(ModelFolder.local(uri, conf)).as("second call: the same copy").isEqualTo(local);

    Files.writeString(model.resolve("extra.txt"), "a new file changes the folder's fingerprint");
    Path again = ModelFolder.local(uri, conf);
    assertThat(again).isNotEqualTo(local);
    assertThat(again.resolve("extra.txt")).exists();

    assertThat(ModelFolder.local(model.toString(), conf)).as("a local path is used in place").isEqualTo(model);
    assertThat(ModelFolder.local(model.toUri().toString(), conf)).isEqualTo(model);
    assertThat(ModelFolder.checkedConfig(again).hiddenSize()).isEqualTo(32);
  }

  @Test
  void theVocabularyMustCoverTheTokenizer() throws Exception {
    assertThat(ModelFolder.tokenizerSize(HarvestFixtures.DEMO_TOKENIZER)).isEqualTo(2000);
    Path small = HarvestFixtures.model(tmp.resolve("small"), new NeoXConfig(32, 4, 1, 64, 0.25, 10000, true, 1e-5,
        1999, 64, false, true, 0), 1);
    assertThatThrownBy(() -> ModelFolder.checkedConfig(small)).hasMessage(String.format(
        "model %s: vocab_size 1999 in config.json does not cover %s, whose token ids go up to 1999; the checkpoint "
            + "and the tokenizer do not belong together", small, small.resolve("tokenizer.json")));
    Path exact = HarvestFixtures.model(tmp.resolve("exact"), new NeoXConfig(32, 4, 1, 64, 0.25, 10000, true, 1e-5,
        2000, 64, false, true, 0), 1);
    assertThat(ModelFolder.checkedConfig(exact).vocabSize()).isEqualTo(2000);
    Files.delete(exact.resolve("tokenizer.json"));
    assertThatThrownBy(() -> ModelFolder.checkedConfig(exact)).hasMessage(
        "model folder " + exact + " has no tokenizer.json");
    assertThatThrownBy(() -> ModelFolder.checkedConfig(tmp)).hasMessage(
        "model folder " + tmp + " has no config.json; expected a HuggingFace checkpoint folder");
  }
}
