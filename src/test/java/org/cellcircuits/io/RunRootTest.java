package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

class RunRootTest {
  private final Configuration hadoop = new Configuration();

  @Test
  void aRelativeLocalRootBecomesAnAbsoluteFileUri() throws Exception {
    RunRoot root = RunRoot.of("runs/demo/", hadoop);
    Path expected = Paths.get("runs/demo").toAbsolutePath();
    assertThat(root.uri()).isEqualTo("file:" + expected);
    assertThat(root.stagePath("sentences").toString()).isEqualTo("file:" + expected + "/sentences");
  }

  @Test
  void anObjectStoreRootKeepsItsBucketAndPrefixWithoutConnecting() throws Exception {
    RunRoot root = RunRoot.of("s3a://my-bucket/runs/heart/", hadoop);
    assertThat(root.uri()).isEqualTo("s3a://my-bucket/runs/heart");
    assertThat(root.markerPath("harvest").toString()).isEqualTo("s3a://my-bucket/runs/heart/harvest/_COMMITTED.json");
    assertThat(root.attemptPath("harvest", "20250101-000000-00ff").toString())
        .isEqualTo("s3a://my-bucket/runs/heart/harvest/attempt-20250101-000000-00ff");
    assertThat(RunRoot.of("s3a://my-bucket", hadoop).stagePath("train").toString()).isEqualTo("s3a://my-bucket/train");
    assertThatThrownBy(() -> RunRoot.of("s3a:/my-bucket/runs", hadoop))
        .hasMessageContaining("has no bucket or host; expected e.g. s3a://bucket/prefix");
  }

  @Test
  void travelsToExecutorsAsItsUriAndNeedsAConfigurationThere() throws Exception {
    RunRoot root = RunRoot.of("s3a://b/p", hadoop);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(root);
    }
    RunRoot copy;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      copy = (RunRoot) in.readObject();
    }
    assertThat(copy).isEqualTo(root);
    assertThat(bytes.size()).as("serialized size: a URI, not a Hadoop configuration").isLessThan(200);
    assertThatThrownBy(copy::fileSystem)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("call withHadoop(conf) first");
    assertThat(copy.withHadoop(hadoop).hadoop()).isSameAs(hadoop);
  }

  @Test
  void rejectsStageAndTableNamesThatWouldEscapeTheirFolder() throws Exception {
    RunRoot root = RunRoot.of("s3a://b/p", hadoop);
    assertThatThrownBy(() -> root.stagePath("../other")).hasMessageContaining("stage name '../other' is invalid");
    assertThatThrownBy(() -> root.stagePath("Sentences")).hasMessageContaining("stage name 'Sentences' is invalid");
    assertThatThrownBy(() -> RunRoot.requireTableName("nodes/../../x")).hasMessageContaining("is invalid");
    assertThat(RunRoot.requireTableName("activations/layer=3")).isEqualTo("activations/layer=3");
  }

  @Test
  void aNeverCommittedStageReadsAsEmptyAndItsPathAsAClearError(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    RunRoot root = RunRoot.of(tmp.toString(), hadoop);
    assertThat(root.committed("sentences")).isEmpty();
    assertThatThrownBy(() -> root.committedPath("sentences", "sentences"))
        .isInstanceOf(StageNotCommittedException.class)
        .hasMessage("stage sentences has no committed output under file:%s (no file:%s/sentences/_COMMITTED.json); "
            + "run `cellcircuits sentences` first", tmp, tmp);
  }
}
