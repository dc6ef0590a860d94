package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.cellcircuits.sentences.RemoteLikeFolders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transcoders and training checkpoints on a non-local file system (a local folder under another scheme, which goes
 * down the s3a:// path: copies to and from local disk, the trainer state uploaded last): what is written reads back
 * exactly, and only the newest two checkpoints of a layer stay.
 */
class RemoteFoldersTest {
  @TempDir Path tmp;

  private static Configuration remoteLike() {
    return RemoteLikeFolders.configuration();
  }

  private static TranscoderConfig config() {
    return TranscoderConfig.builder().modelName("m").layer(3).dIn(6).dOut(6).dSae(12).trainingTokens(64)
        .trainBatchSizeTokens(8).lrWarmUpSteps(0).lrDecaySteps(0).l1WarmUpSteps(0).inputScale(2.0).targetScale(0.5)
        .resampleDeadFeatures(false).build();
  }

  @Test
  void aTranscoderSavedToARemoteFolderLoadsBackExactly() throws Exception {
    Configuration conf = remoteLike();
    org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path("remotelike://" + tmp.resolve("t").toAbsolutePath());
    try (TranscoderTrainer trainer = TranscoderTrainer.create(config(), Device.cpu());
        Transcoder written = trainer.transcoder()) {
      TranscoderStore.save(written, dir, conf);
      try (Transcoder read = TranscoderStore.load(dir, conf, Device.cpu()); Transcoder folded = written.folded()) {
        for (String name : Transcoder.PARAMETER_NAMES) {
          assertThat(read.weight(name).toFloatArray()).as(name).containsExactly(folded.weight(name).toFloatArray());
        }
        assertThat(read.config().hash()).isEqualTo(written.config().hash());
      }
    }
    assertThat(Files.list(tmp.resolve("t")).map(p -> p.getFileName().toString()))
        .containsExactlyInAnyOrder(Transcoder.CONFIG_FILE, Transcoder.WEIGHTS_FILE);
  }

  @Test
  void checkpointsPublishedRemotelyResumeAndOnlyTheNewestTwoStay() throws Exception {
    Configuration conf = remoteLike();
    TrainingCheckpoints cps = new TrainingCheckpoints("remotelike://" + tmp.resolve("cps").toAbsolutePath());
    JsonObject layout = new JsonObject();
    layout.addProperty("mode", "layer-parallel");
    float[] weightsAtStep3 = null;
    java.util.Random random = new java.util.Random(5);
    try (TranscoderTrainer trainer = TranscoderTrainer.create(config(), Device.cpu());
        ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager(Device.cpu())) {
      for (int step = 1; step <= 3; step++) {
        // One real step between checkpoints, so that each holds other weights.
        float[] x = new float[8 * 6];
        float[] t = new float[8 * 6];
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) random.nextGaussian();
          t[i] = (float) random.nextGaussian();
        }
        trainer.step(new TrainingBatch(m.create(x, new ai.djl.ndarray.types.Shape(8, 6)),
            m.create(t, new ai.djl.ndarray.types.Shape(8, 6))));
        float[] w = trainer.flatWeights();
        Path local = tmp.resolve("local-" + step);
        trainer.saveCheckpoint(local);
        cps.publish(3, step, local, layout, conf);
        assertThat(local).doesNotExist();
        if (step == 3) {
          weightsAtStep3 = w;
        }
      }
    }
    FileSystem fs = cps.layerDir(3).getFileSystem(conf);
    assertThat(fs.listStatus(cps.layerDir(3))).extracting(s -> s.getPath().getName())
        .containsExactlyInAnyOrder("step=2", "step=3");
    assertThat(cps.latest(3, conf).orElseThrow().getName()).isEqualTo("step=3");
    var resumed = cps.resumeLatest(3, config(), Device.cpu(), conf, false).orElseThrow();
    try (TranscoderTrainer t = resumed.trainer()) {
      assertThat(resumed.step()).isEqualTo(3);
      assertThat(t.flatWeights()).containsExactly(weightsAtStep3);
      assertThat(resumed.layout().get("mode").getAsString()).isEqualTo("layer-parallel");
    }
    // An upload cut off before its trainer state is not a checkpoint.
    fs.mkdirs(new org.apache.hadoop.fs.Path(cps.layerDir(3), "step=4"));
    assertThat(cps.latest(3, conf).orElseThrow().getName()).isEqualTo("step=3");
  }
}
