package org.cellcircuits.harvest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.api.Binary;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.SerializableConfiguration;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageCommitter;
import org.cellcircuits.io.StageResult;
import org.cellcircuits.io.StageSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reader on hand-made layer files whose vectors encode their row id: every row exactly once per epoch, mlp_in and
 * mlp_out of a row kept together, a seeded shuffle, only the layer's committed files read, usable inside a Spark task.
 */
class ActivationStoreTest {
  private static final int D = 64;
  private static final int[] FILE_ROWS = {4000, 9000, 2500};
  private static final int TOTAL = 15500;

  @TempDir Path tmp;

  /**
   * Writes layer {@code layer} under {@code activations}: row {@code id} has mlp_in = (id / 64, id % 64, noise...)
   * and mlp_out = (-(id / 64), -(id % 64) - 0.5, noise...), all exact in fp16 and in bf16 (8 significant bits). Small row groups (1 MiB), so a
   * file has several.
   */
  static Path writeLayer(Path activations, int layer, VectorFormat format) throws Exception {
    Path dir = activations.resolve(ActivationSchema.layerFolder(layer));
    Configuration conf = new Configuration();
    Random random = new Random(1);
    float[] in = new float[D];
    float[] out = new float[D];
    byte[] inBytes = new byte[2 * D];
    byte[] outBytes = new byte[2 * D];
    List<LayerManifest.FileEntry> entries = new ArrayList<>();
    int id = 0;
    for (int f = 0; f < FILE_ROWS.length; f++) {
      String name = "part-" + f + ".parquet";
      org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(dir.resolve(name).toUri());
      try (ActivationWriter w = new ActivationWriter(file, conf, D, layer, format, CompressionCodecName.SNAPPY,
          1 << 20)) {
        for (int r = 0; r < FILE_ROWS[f]; r++, id++) {
          for (int k = 2; k < D; k++) {
            in[k] = (random.nextInt(256) - 128) / 16f;
            out[k] = (random.nextInt(256) - 128) / 64f;
          }
          in[0] = id / 64;
          in[1] = id % 64;
          out[0] = -(id / 64);
          out[1] = -(id % 64) - 0.5f;
          format.encode(in, 0, D, inBytes, 0);
          format.encode(out, 0, D, outBytes, 0);
          w.write(Binary.fromString("cell-" + id / 100), id % 100, 7, null, 0, inBytes, 0, outBytes, 0);
        }
      }
      entries.add(new LayerManifest.FileEntry(name, FILE_ROWS[f], Files.size(dir.resolve(name))));
    }
    new LayerManifest(layer, D, format, entries).write(new org.apache.hadoop.fs.Path(dir.toUri()), conf);
    return dir;
  }

  /** The row ids of one epoch, in order, checking each row's mlp_in and mlp_out belong together. */
  static List<Integer> epoch(ActivationStore store, int batch, int buffer, long seed) {
    List<Integer> ids = new ArrayList<>();
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        ActivationBatches epoch = store.batches(m, new Configuration(), batch, buffer, seed)) {
      while (epoch.hasNext()) {
        try (ActivationBatch b = epoch.next()) {
          assertThat(b.mlpIn().getShape().get(1)).isEqualTo(D);
          assertThat(b.mlpIn().getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.FLOAT32);
          assertThat(b.mlpOut().getShape()).isEqualTo(b.mlpIn().getShape());
          float[] in = b.mlpIn().toFloatArray();
          float[] out = b.mlpOut().toFloatArray();
          for (int r = 0; r < b.rows(); r++) {
            int id = (int) in[r * D] * 64 + (int) in[r * D + 1];
            assertThat(out[r * D]).as("mlp_out of row %d", id).isEqualTo(-(id / 64));
            assertThat(out[r * D + 1]).as("mlp_out of row %d", id).isEqualTo(-(id % 64) - 0.5f);
            ids.add(id);
          }
        }
      }
    }
    return ids;
  }

  @Test
  void everyRowComesOnceShuffledAndTheSeedFixesTheOrder() throws Exception {
    Path dir = writeLayer(tmp.resolve("activations"), 3, VectorFormat.FP16);
    ActivationStore store = ActivationStore.open(dir.toString(), new Configuration());
    assertThat(store.rows()).isEqualTo(TOTAL);
    assertThat(store.dModel()).isEqualTo(D);
    assertThat(store.layer()).isEqualTo(3);

    List<Integer> a = epoch(store, 1000, 4096, 42);
    assertThat(a).hasSize(TOTAL);
    assertThat(new HashSet<>(a)).hasSize(TOTAL);
    assertThat(a.stream().mapToInt(Integer::intValue).min().getAsInt()).isZero();
    assertThat(a.stream().mapToInt(Integer::intValue).max().getAsInt()).isEqualTo(TOTAL - 1);

    assertThat(epoch(store, 1000, 4096, 42)).as("same seed, same order").isEqualTo(a);
    List<Integer> b = epoch(store, 1000, 4096, 43);
    assertThat(b).as("another seed, another order").isNotEqualTo(a).containsExactlyInAnyOrderElementsOf(a);

    // Shuffled: successive ids are in increasing order about half the time (in file order: always).
    long rising = 0;
    for (int i = 1; i < a.size(); i++) {
      rising += a.get(i) > a.get(i - 1) ? 1 : 0;
    }
    assertThat((double) rising / (a.size() - 1)).isBetween(0.45, 0.55);
    // A buffer as large as the layer is a full shuffle: the first 200 rows come from all over the layer.
    List<Integer> full = epoch(store, 200, TOTAL, 5);
    long fromEachThird = full.subList(0, 200).stream().map(id -> id * 3 / TOTAL).distinct().count();
    assertThat(fromEachThird).isEqualTo(3);
    // The last batch carries the remainder: 15500 = 15 x 1000 + 500.
    try (NDManager m = NDManager.newBaseManager(Device.cpu());
        ActivationBatches epoch = store.batches(m, new Configuration(), 1000, 64, 1)) {
      int batches = 0;
      int last = 0;
      while (epoch.hasNext()) {
        try (ActivationBatch batch = epoch.next()) {
          last = batch.rows();
          batches++;
        }
      }
      assertThat(batches).isEqualTo(16);
      assertThat(last).isEqualTo(500);
      assertThat(epoch.totalRows()).isEqualTo(TOTAL);
    }
  }

  @Test
  void bf16VectorsDecodeToFp32() throws Exception {
    Path dir = writeLayer(tmp.resolve("activations"), 0, VectorFormat.BF16);
    ActivationStore store = ActivationStore.open(dir.toString(), new Configuration());
    assertThat(store.format()).isEqualTo(VectorFormat.BF16);
    assertThat(epoch(store, 777, 1, 0)).hasSize(TOTAL).doesNotHaveDuplicates();
  }

  @Test
  void onlyTheLayersCommittedFilesAreRead() throws Exception {
    Path activations = tmp.resolve("activations");
    Path dir = writeLayer(activations, 2, VectorFormat.FP16);
    // An orphan of a failed task attempt in the layer's own folder, and another layer's folder of garbage: neither
    // is in the manifest, so neither is opened (each would fail to parse).
    Files.writeString(dir.resolve("part-9-orphan.parquet"), "not parquet");
    Files.createDirectories(activations.resolve("layer=5"));
    Files.writeString(activations.resolve("layer=5/part-0.parquet"), "not parquet");
    ActivationStore store = ActivationStore.open(dir.toString(), new Configuration());
    assertThat(store.files()).extracting(LayerManifest.FileEntry::name)
        .containsExactlyInAnyOrder("part-0.parquet", "part-1.parquet", "part-2.parquet");
    assertThat(epoch(store, 4096, 1024, 3)).hasSize(TOTAL).doesNotHaveDuplicates();

    assertThatThrownBy(() -> ActivationStore.open(activations.resolve("layer=5").toString(), new Configuration()))
        .hasMessageContaining("has no _manifest.json: it is not a layer folder written by the harvest stage");
  }

  @Test
  void shardsSplitTheRowsAndWorkInsideSparkTasks() throws Exception {
    Path dir = writeLayer(tmp.resolve("activations"), 1, VectorFormat.FP16);
    ActivationStore store = ActivationStore.open(dir.toString(), new Configuration());
    Set<Integer> seen = new HashSet<>();
    long rows = 0;
    for (int s = 0; s < 2; s++) {
      ActivationStore shard = store.shard(s, 2);
      List<Integer> ids = epoch(shard, 512, 512, s);
      assertThat(ids).hasSize((int) shard.rows());
      for (int id : ids) {
        assertThat(seen.add(id)).as("row %d in two shards", id).isTrue();
      }
      rows += ids.size();
    }
    assertThat(rows).isEqualTo(TOTAL);

    SparkSession spark = SparkSession.builder().master("local[2]").appName("ActivationStoreTest")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      Broadcast<SerializableConfiguration> conf =
          jsc.broadcast(new SerializableConfiguration(spark.sparkContext().hadoopConfiguration()));
      List<Long> sums = jsc.parallelize(List.of(0, 1), 2).map(s -> {
        ActivationStore shard = store.shard(s, 2); // the store travels to the task serialized
        long sum = 0;
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
            ActivationBatches epoch = shard.batches(m, conf.value().value(), 1000, 2000, 9)) {
          while (epoch.hasNext()) {
            try (ActivationBatch b = epoch.next()) {
              float[] in = b.mlpIn().toFloatArray();
              for (int r = 0; r < b.rows(); r++) {
                sum += (long) in[r * D] * 64 + (long) in[r * D + 1];
              }
            }
          }
        }
        return sum;
      }).collect();
      assertThat(sums.get(0) + sums.get(1)).isEqualTo((long) TOTAL * (TOTAL - 1) / 2);
    } finally {
      spark.stop();
    }
  }

  @Test
  void layerInfoComesFromTheHarvestMarker() throws Exception {
    Path rootDir = tmp.resolve("run");
    RunRoot root = RunRoot.of(rootDir.toString(), new Configuration());
    StageSpec spec = new StageSpec("harvest", ConfigFactory.parseString(
        "harvest { vector-format = bf16, layers = [1] }"), Map.of());
    StageCommitter.run(root, spec, false, attemptDir -> {
      writeLayer(Path.of(java.net.URI.create(attemptDir)).resolve("activations"), 1, VectorFormat.BF16);
      return StageResult.of(Map.of("activations/layer=1", (long) TOTAL)).withStat("d_model", D);
    });
    ActivationStore.LayerInfo info = ActivationStore.layerInfo(root, 1);
    assertThat(info).isEqualTo(new ActivationStore.LayerInfo(1, D, TOTAL, VectorFormat.BF16));
    ActivationStore store = ActivationStore.open(root, 1);
    assertThat(store.rows()).isEqualTo(TOTAL);
    assertThat(Arrays.asList(epoch(store, 5000, 5000, 1).size())).containsExactly(TOTAL);

    assertThatThrownBy(() -> ActivationStore.layerInfo(root, 4))
        .hasMessageContaining("has no layer 4; its tables are [activations/layer=1]");
    assertThatThrownBy(() -> ActivationStore.open(RunRoot.of(tmp.resolve("empty").toString(), new Configuration()), 1))
        .hasMessageContaining("stage harvest has no committed output");
  }
}
