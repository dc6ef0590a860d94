package org.cellcircuits.evaluate;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.harvest.HarvestFixtures;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.io.StageCommitter;
import org.cellcircuits.io.StageResult;
import org.cellcircuits.io.StageSpec;
import org.cellcircuits.jobs.ConfigLoader;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.MlpReplacement;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.transcoder.ActivationScaling;
import org.cellcircuits.transcoder.TrainingProvenance;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderKind;
import org.cellcircuits.transcoder.TranscoderStore;

/**
 * Tiny models with the demo tokenizer, random transcoders, and sentences and train stages committed as those stages
 * would commit them.
 */
public final class EvaluateFixtures {
  private EvaluateFixtures() {}

  // The tiny model, prompt template and gene pool of the harvest tests, so both stages see the same kind of cells.
  static final Path DEMO_TOKENIZER = HarvestFixtures.DEMO_TOKENIZER;
  static final NeoXConfig TINY = HarvestFixtures.TINY;
  static final String TEMPLATE = HarvestFixtures.TEMPLATE;
  static final List<String> GENE_POOL = HarvestFixtures.GENE_POOL;
  static final List<String> CELL_TYPES = HarvestFixtures.CELL_TYPES;

  /**
   * A random tiny model whose next-token distributions are far from uniform (embed_out x 15, embed_in x 30) and
   * whose MLPs move them (MLP weights x 20), so losses, KLs and MLP ablations differ clearly between variants.
   */
  public static Path model(Path dir, long seed) throws IOException {
    Files.createDirectories(dir);
    try (GptNeoX model = GptNeoX.initialize(TINY, Device.cpu(), seed)) {
      for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
        if (e.getKey().equals("gpt_neox.embed_in.weight")) {
          e.getValue().muli(30f);
        } else if (e.getKey().equals("embed_out.weight")) {
          e.getValue().muli(15f);
        } else if (e.getKey().contains(".mlp.") && e.getKey().endsWith(".weight")) {
          e.getValue().muli(20f);
        }
      }
      model.save(dir, SafetensorsDType.F32);
    }
    Files.copy(DEMO_TOKENIZER, dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
    return dir;
  }

  /**
   * Cells with 3..12 genes from the pool and cyclic cell types, ids {@code cell-000}...; every seventh cell has no
   * annotated type.
   */
  public static List<CellPrompt> cells(int n, long seed) {
    Random random = new Random(seed);
    List<CellPrompt> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      List<String> pool = new ArrayList<>(GENE_POOL);
      Collections.shuffle(pool, random);
      List<String> genes = pool.subList(0, 3 + random.nextInt(10));
      String prompt = String.format(TEMPLATE, 12, String.join(" ", genes));
      String type = i % 7 == 6 ? null : CELL_TYPES.get(i % CELL_TYPES.size());
      out.add(new CellPrompt(String.format("cell-%03d", i), type, genes, prompt));
    }
    return out;
  }

  /** The transcoder config of one layer. */
  static TranscoderConfig config(TranscoderKind kind, int layer, int dModel, int dSae) {
    return TranscoderConfig.builder().kind(kind).modelName("tiny").layer(layer).dIn(dModel).dOut(dModel).dSae(dSae)
        .build();
  }

  /**
   * A folded transcoder with random weights: W_enc ~ N(0, 0.4^2), b_enc ~ N(-0.3, 0.3^2) except every fifth feature,
   * whose b_enc of -1000 keeps it from ever firing; W_dec ~ N(0, decoderScale^2), b_dec ~ N(0, 0.1^2) (both 0 when
   * decoderScale is 0).
   */
  public static Transcoder transcoder(TranscoderKind kind, int layer, int dModel, int dSae, double decoderScale, long seed) {
    TranscoderConfig c = config(kind, layer, dModel, dSae);
    Random r = new Random(seed);
    float[] wEnc = gaussian(r, dModel * dSae, 0, 0.4);
    float[] bEnc = gaussian(r, dSae, -0.3, 0.3);
    for (int k = 0; k < dSae; k += 5) {
      bEnc[k] = -1000f;
    }
    float[] wDec = gaussian(r, dSae * dModel, 0, decoderScale);
    float[] bDec = gaussian(r, dModel, 0, decoderScale == 0 ? 0 : 0.1);
    return Transcoder.of(c, new ActivationScaling(1, 1, true), TrainingProvenance.untrained(c), Device.cpu(), wEnc,
        bEnc, wDec, bDec);
  }

  static float[] gaussian(Random r, int n, double mean, double sd) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (mean + sd * r.nextGaussian());
    }
    return v;
  }

  /**
   * relu(x W_enc + b_enc) W_dec + b_dec from a transcoder's raw weights, written apart from {@link Transcoder} so that
   * tests do not check the evaluator's replacement against itself.
   */
  static MlpReplacement rawReplacement(Transcoder t) {
    float[] we = t.weight("W_enc").toFloatArray();
    float[] be = t.weight("b_enc").toFloatArray();
    float[] wd = t.weight("W_dec").toFloatArray();
    float[] bd = t.weight("b_dec").toFloatArray();
    int dIn = t.config().dIn();
    int dSae = t.config().dSae();
    int dOut = t.config().dOut();
    return x -> {
      NDManager m = x.getManager();
      NDArray z = x.matMul(m.create(we, new Shape(dIn, dSae))).add(m.create(be)).maximum(0f);
      return z.matMul(m.create(wd, new Shape(dSae, dOut))).add(m.create(bd));
    };
  }

  /** Writes the cells as the sentences stage's table and commits it under the root (as the harvest tests do). */
  public static void commitSentences(SparkSession spark, RunRoot root, List<CellPrompt> cells) throws Exception {
    HarvestFixtures.commitSentences(spark, root, cells);
  }

  /** Commits a train stage holding these transcoders, as the train stage lays them out. */
  public static void commitTrain(RunRoot root, Map<Integer, Transcoder> transcoders, Configuration conf) throws Exception {
    StageSpec spec = new StageSpec("train", ConfigFactory.parseString("train.fixture = \""
        + Arrays.toString(new TreeMap<>(transcoders).keySet().toArray()) + System.nanoTime() + "\""), Map.of());
    StageCommitter.run(root, spec, true, attemptDir -> {
      Map<String, Long> tables = new TreeMap<>();
      for (Map.Entry<Integer, Transcoder> e : transcoders.entrySet()) {
        String table = TranscoderStore.layerTable(e.getKey());
        TranscoderStore.save(e.getValue(), new org.apache.hadoop.fs.Path(attemptDir, table), conf);
        tables.put(table, (long) e.getValue().config().dSae());
      }
      return StageResult.of(tables);
    });
  }

  /** Runs one stage of the default registry on the test's Spark session. */
  public static org.cellcircuits.io.StageOutcome runStage(SparkSession spark, Config config, String stage)
      throws Exception {
    try (org.cellcircuits.jobs.StageRunner runner = new org.cellcircuits.jobs.StageRunner(
        org.cellcircuits.jobs.StageRegistry.defaults(), config, settings -> spark, false)) {
      return runner.run(stage);
    }
  }

  /** Random ReLU transcoders of layers 0 .. layers-1 (d_model -> dSae, decoder scale 0.2, seeds 100 + layer). */
  public static java.util.SortedMap<Integer, Transcoder> randomTranscoders(int layers, int dModel, int dSae) {
    java.util.SortedMap<Integer, Transcoder> out = new TreeMap<>();
    for (int layer = 0; layer < layers; layer++) {
      out.put(layer, transcoder(TranscoderKind.TRANSCODER, layer, dModel, dSae, 0.2, 100 + layer));
    }
    return out;
  }

  /**
   * Sentences, a real harvest, and a train stage of {@link #randomTranscoders} of the tiny model's width (32),
   * committed under root: what the stages after train read.
   */
  public static java.util.SortedMap<Integer, Transcoder> commitUpstream(SparkSession spark, RunRoot root,
      Config config, List<CellPrompt> cells, int layers, int dSae) throws Exception {
    commitSentences(spark, root, cells);
    org.assertj.core.api.Assertions.assertThat(runStage(spark, config, "harvest").status())
        .isEqualTo(org.cellcircuits.io.StageOutcome.Status.COMMITTED);
    java.util.SortedMap<Integer, Transcoder> tcs = randomTranscoders(layers, TINY.hiddenSize(), dSae);
    commitTrain(root, tcs, spark.sparkContext().hadoopConfiguration());
    return tcs;
  }

  /** The full config of a run: reference defaults plus these {@code key=value} overrides. */
  public static Config config(String root, Path model, String... overrides) {
    List<String> all = new ArrayList<>(List.of("run.root=" + root, "model.path=" + model, "model.device=cpu"));
    all.addAll(Arrays.asList(overrides));
    return ConfigLoader.load(null, all);
  }
}
