package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.api.Binary;
import org.cellcircuits.harvest.ActivationStore;
import org.cellcircuits.harvest.ActivationWriter;
import org.cellcircuits.harvest.LayerManifest;
import org.cellcircuits.harvest.VectorFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harvested activations as the trainer's stream: epochs one after another, every row once per epoch, the SAE
 * target, and the bad inputs of issue 7 (mixed d_model in one layer, a non-finite activation) stopping with the file,
 * cell and token named.
 */
class HarvestedBatchesTest {
  @TempDir Path tmp;

  /**
   * Writes a layer folder of files with the given widths; row r of file f has mlp_in[0] = its global id, mlp_out[0]
   * = -id, cell id {@code cell-<id / 10>}, position {@code id % 10}. {@code poison} (a global id, or -1) gets NaN.
   */
  private ActivationStore layer(int[] rowsPerFile, int[] widths, long poison) throws Exception {
    Path dir = tmp.resolve("layer=0");
    Configuration conf = new Configuration();
    List<LayerManifest.FileEntry> entries = new ArrayList<>();
    int id = 0;
    for (int f = 0; f < rowsPerFile.length; f++) {
      int d = widths[f];
      String name = "part-" + f + ".parquet";
      float[] in = new float[d];
      float[] out = new float[d];
      byte[] inBytes = new byte[2 * d];
      byte[] outBytes = new byte[2 * d];
      try (ActivationWriter w = new ActivationWriter(new org.apache.hadoop.fs.Path(dir.resolve(name).toUri()), conf,
          d, 0, VectorFormat.FP16, CompressionCodecName.SNAPPY, 1 << 20)) {
        for (int r = 0; r < rowsPerFile[f]; r++, id++) {
          in[0] = id == poison ? Float.NaN : id;
          out[0] = -id;
          in[1] = 1;
          out[1] = 2;
          VectorFormat.FP16.encode(in, 0, d, inBytes, 0);
          VectorFormat.FP16.encode(out, 0, d, outBytes, 0);
          w.write(Binary.fromString("cell-" + id / 10), id % 10, 5, null, 0, inBytes, 0, outBytes, 0);
        }
      }
      entries.add(new LayerManifest.FileEntry(name, rowsPerFile[f], Files.size(dir.resolve(name))));
    }
    new LayerManifest(0, widths[0], VectorFormat.FP16, entries).write(new org.apache.hadoop.fs.Path(dir.toUri()),
        conf);
    return ActivationStore.open(dir.toUri().toString(), conf);
  }

  @Test
  void epochsFollowEachOtherEachWithEveryRowOnceAndItsOwnOrder() throws Exception {
    ActivationStore store = layer(new int[] {300, 200}, new int[] {8, 8}, -1);
    List<Integer> seen = new ArrayList<>();
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        HarvestedBatches batches = new HarvestedBatches(store, new Configuration(), 64, 100, 3, 2,
            TranscoderKind.TRANSCODER, m)) {
      TrainingBatch b;
      while ((b = batches.next(m)) != null) {
        float[] in = b.input().toFloatArray();
        float[] t = b.target().toFloatArray();
        for (int r = 0; r < b.rows(); r++) {
          assertThat(t[r * 8]).isEqualTo(-in[r * 8]);
          seen.add((int) in[r * 8]);
        }
      }
      assertThat(batches.tokensSeen()).isEqualTo(1000);
      assertThat(batches.epochsBegun()).isEqualTo(2);
    }
    List<Integer> first = seen.subList(0, 500);
    List<Integer> second = seen.subList(500, 1000);
    Set<Integer> all = new HashSet<>();
    for (int i = 0; i < 500; i++) {
      all.add(i);
    }
    assertThat(new HashSet<>(first)).isEqualTo(all);
    assertThat(new HashSet<>(second)).isEqualTo(all);
    assertThat(second).as("the second epoch is reshuffled").isNotEqualTo(first);
  }

  @Test
  void anSaeTrainsOnItsInputAsTarget() throws Exception {
    ActivationStore store = layer(new int[] {50}, new int[] {8}, -1);
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        HarvestedBatches batches = new HarvestedBatches(store, new Configuration(), 16, 16, 1, 1,
            TranscoderKind.SAE, m)) {
      TrainingBatch b = batches.next(m);
      assertThat(b.target()).isSameAs(b.input());
    }
  }

  @Test
  void aFileOfAnotherWidthInTheLayerIsNamed() throws Exception {
    ActivationStore store = layer(new int[] {40, 40}, new int[] {8, 16}, -1);
    assertThatThrownBy(() -> {
      try (NDManager m = NDManager.newBaseManager(Device.cpu());
          HarvestedBatches batches = new HarvestedBatches(store, new Configuration(), 16, 1, 1, 1,
              TranscoderKind.TRANSCODER, m)) {
        while (batches.next(m) != null) {
          // read to the end
        }
      }
    }).hasMessageContaining("part-1.parquet").hasMessageContaining("32-byte vectors")
        .hasMessageContaining("expected 16 (d_model 8 in the layer's manifest)");
  }

  @Test
  void aNonFiniteActivationStopsTrainingWithItsCellAndTokenNamed() throws Exception {
    ActivationStore store = layer(new int[] {120, 80}, new int[] {8, 8}, 157);
    TranscoderConfig c = TranscoderConfig.builder().modelName("m").layer(0).dIn(8).dOut(8).dSae(16)
        .trainingTokens(400).trainBatchSizeTokens(40).lrWarmUpSteps(0).lrDecaySteps(0).l1WarmUpSteps(0)
        .inputScale(1.0).targetScale(1.0).resampleDeadFeatures(false).build();
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        TranscoderTrainer trainer = TranscoderTrainer.create(c, Device.cpu());
        HarvestedBatches batches = new HarvestedBatches(store, new Configuration(), 40, 50, 9, 2,
            TranscoderKind.TRANSCODER, m)) {
      assertThatThrownBy(() -> trainer.train(batches, TrainOptions.logTo(s -> {}, "test")))
          .hasMessageContaining("mlp_in (blocks.0.ln2.hook_normalized) is NaN")
          .hasMessageContaining("cell cell-15 token 7 (row 37 of ")
          .hasMessageContaining("part-1.parquet")
          .hasMessageContaining("training stops rather than skip the row");
    }
  }
}
