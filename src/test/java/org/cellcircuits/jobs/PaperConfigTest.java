package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.cellcircuits.harvest.HarvestParams;
import org.cellcircuits.harvest.TokenPolicy;
import org.cellcircuits.harvest.VectorFormat;
import org.cellcircuits.sentences.AtlasOptions;
import org.cellcircuits.sentences.CellSplit;
import org.cellcircuits.sentences.SentencesParams;
import org.cellcircuits.transcoder.Activation;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * conf/hca-heart-v2.conf, the paper's run: it loads over reference.conf, every stage accepts it before any data exists,
 * it holds the paper's figures, and the harvest it asks for covers the training budget at the storage its comments
 * state. Neither the atlas nor the model is needed.
 */
class PaperConfigTest {
  private static final Path CONF = Path.of("conf/hca-heart-v2.conf");

  /** C2S-Pythia-410m (config.json): 24 layers, hidden_size 1024. */
  private static final int LAYERS = 24;
  private static final int D_MODEL = 1024;

  /** Heart Cell Atlas v2 (heartcellatlas.org): 704,296 cells and nuclei. */
  private static final long ATLAS_CELLS = 704_296;

  /**
   * Prompt tokens of a 128-gene prompt: 57 template tokens + 128 genes x 3.45 tokens (Pythia's tokenizer on the symbols
   * of demo/genes.tsv); an estimate, derived in the conf's sentences.top-k comment.
   */
  private static final double PROMPT_TOKENS = 57 + 128 * 3.45;

  @TempDir Path tmp;

  private static Config load(String... sets) {
    return ConfigLoader.load(CONF, List.of(sets));
  }

  @Test
  void everyStageAcceptsItBeforeAnyDataExists() {
    Config config = load();
    List<String> validated = new ArrayList<>();
    for (Stage stage : StageRegistry.defaults().inOrder()) {
      stage.validate(config);
      validated.add(stage.name());
    }
    assertThat(validated).containsExactly("sentences", "harvest", "train", "evaluate", "circuits", "interpret");
  }

  @Test
  void runPlanChecksEveryStageAndNamesTheMissingAtlasWithoutStartingSpark() {
    // what `jobs/cellcircuits-local run --plan --config conf/hca-heart-v2.conf` does on a machine without the data:
    // every key is validated, the plan says the first stage cannot run yet and why, exit 0
    String atlas = tmp.resolve("absent/hca-heart-v2.h5ad").toString();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = CellCircuits.commandLine(StageRegistry.defaults(), ConfigLoader.reference(), settings -> {
      throw new AssertionError("run --plan must not start Spark");
    }, false);
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int code = cli.execute("run", "--plan", "--config", CONF.toString(), "--root", tmp.resolve("run").toString(),
        "--set", "sentences.atlas.path=" + atlas, "--set", "model.path=" + tmp.resolve("absent/model"));
    assertThat(code).as(err.toString()).isZero();
    List<String> lines = out.toString().lines().skip(1).map(String::strip).toList();
    assertThat(lines).hasSize(6);
    assertThat(lines.get(0)).startsWith("sentences  cannot run: ").contains(atlas);
    assertThat(lines.get(1)).isEqualTo("harvest    runs after sentences");
  }

  @Test
  void aBadValueLayeredOverItIsStillRefusedBeforeSparkStarts() {
    // the paper's conf must not switch validation off: a layer the model lacks and a bad lambda still fail
    assertThatThrownBy(() -> new TrainStage().validate(load("train.l1-coefficient=-1")))
        .hasMessageContaining("l1-coefficient");
    assertThatThrownBy(() -> HarvestParams.fromConfig(load()).layersFor(12, "a 12-layer checkpoint"))
        .hasMessageContaining("names layer 12, but model a 12-layer checkpoint has 12 layers");
  }

  @Test
  void itReadsTheCellxgeneLayoutAndKeepsThePapersSentencesAndSplit() {
    Config config = load();
    Config sentences = config.getConfig("cellcircuits.sentences");
    AtlasOptions atlas = AtlasOptions.fromConfig(sentences.getConfig("atlas"));
    assertThat(atlas.geneSymbolColumn()).isEqualTo("feature_name");
    assertThat(atlas.cellTypeColumn()).isEqualTo("cell_type");
    assertThat(atlas.donorColumn()).isEqualTo("donor_id");
    assertThat(SentencesParams.fromConfig(sentences).topK()).as("the paper's cell sentences").isEqualTo(128);
    assertThat(CellSplit.fromConfig(config).heldOutFraction()).as("90/10 train/val").isEqualTo(0.1);
    assertThat(config.getString("cellcircuits.model.path")).endsWith("C2S-Pythia-410m-cell-type-prediction");
  }

  @Test
  void itTrainsAnEightfoldReluTranscoderOnEveryLayerWithThePapersLambda() {
    Config config = load();
    HarvestParams harvest = HarvestParams.fromConfig(config);
    List<Integer> all = IntStream.range(0, LAYERS).boxed().toList();
    assertThat(harvest.layersFor(LAYERS, "C2S-Pythia-410m")).isEqualTo(all);
    assertThat(new TrainStage().upstream()).contains("harvest");
    assertThat(config.getIntList("cellcircuits.train.layers")).as("train every harvested layer").isEmpty();

    Config train = config.getConfig("cellcircuits.train");
    for (int layer : List.of(0, LAYERS - 1)) {
      TranscoderConfig tc = TranscoderConfig.fromConfig(train, "C2S-Pythia-410m", layer, D_MODEL, D_MODEL);
      assertThat(tc.kind()).isEqualTo(TranscoderKind.TRANSCODER);
      assertThat(tc.architecture().activation()).isEqualTo(Activation.RELU);
      assertThat(tc.dSae()).as("8x expansion").isEqualTo(8 * D_MODEL);
      // transcoder_circuits' 1.4e-4 (squared error averaged over d_out and divided by ||y||) in our units
      // (summed squared error on targets of mean squared norm d_out): x d_out^1.5
      assertThat(tc.l1Coefficient()).isCloseTo(1.4e-4 * Math.pow(D_MODEL, 1.5), within(1e-12));
    }
  }

  @Test
  void theHarvestCoversTheTrainingBudgetAtTheStorageTheConfStates() {
    Config config = load();
    HarvestParams harvest = HarvestParams.fromConfig(config);
    assertThat(harvest.tokens().mode()).isEqualTo(TokenPolicy.Mode.FRACTION);
    assertThat(harvest.vectorFormat()).isEqualTo(VectorFormat.FP16);
    double storedCells = ATLAS_CELLS * (1 - harvest.split().heldOutFraction());
    double tokensPerLayer = storedCells * PROMPT_TOKENS * harvest.tokens().fraction();
    TranscoderConfig tc = TranscoderConfig.fromConfig(config.getConfig("cellcircuits.train"), "C2S-Pythia-410m", 0,
        D_MODEL, D_MODEL);
    int epochs = config.getInt("cellcircuits.train.max-epochs");
    assertThat(tokensPerLayer * epochs).as("stored tokens a layer x epochs >= train.training-tokens, with 10% margin")
        .isGreaterThan(1.1 * tc.trainingTokens());
    double bytes = tokensPerLayer * 2 * D_MODEL * 2 * harvest.layersFor(LAYERS, "C2S-Pythia-410m").size();
    assertThat(bytes).as("the harvest's size in the conf's comment, 6.2 TB").isCloseTo(6.2e12, within(0.05e12));
  }

  @Test
  void everyKeyItSetsIsCommented() {
    List<String> bare = new ArrayList<>();
    collectUncommented(ConfigFactory.parseFile(CONF.toFile()).root(), "", bare);
    assertThat(bare).as("keys in %s without a comment above them", CONF).isEmpty();
  }

  private static void collectUncommented(ConfigObject object, String prefix, List<String> out) {
    for (Map.Entry<String, ConfigValue> e : object.entrySet()) {
      String key = prefix + e.getKey();
      if (e.getValue() instanceof ConfigObject child) {
        collectUncommented(child, key + ".", out);
      } else if (String.join("", e.getValue().origin().comments()).isBlank()) {
        out.add(key);
      }
    }
  }
}
