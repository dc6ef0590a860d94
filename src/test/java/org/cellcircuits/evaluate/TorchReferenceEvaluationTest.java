package org.cellcircuits.evaluate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.io.SafetensorsReader;
import org.cellcircuits.runtime.ExecutorModels;
import org.cellcircuits.transcoder.ActivationScaling;
import org.cellcircuits.transcoder.TrainingProvenance;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.cellcircuits.transcoder.TranscoderKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The evaluator against figures computed by an independent plain-torch GPT-NeoX in float64
 * ({@code src/test/resources/evaluate/make_fixtures.py}): a transcoder at layer 0, an SAE at layer 1, five cells of
 * which one has no annotated type.
 */
class TorchReferenceEvaluationTest {
  static final Path FIXTURES = Path.of("src/test/resources/evaluate");

  @AfterAll
  static void release() {
    ExecutorModels.clear();
  }

  @Test
  void lossesKlAndDictionaryFiguresEqualThePlainTorchReference() throws Exception {
    JsonObject expected = JsonParser.parseString(Files.readString(FIXTURES.resolve("expected.json")))
        .getAsJsonObject();
    List<CellPrompt> cells = new ArrayList<>();
    for (JsonElement e : expected.getAsJsonArray("cells")) {
      JsonObject c = e.getAsJsonObject();
      List<String> genes = new ArrayList<>();
      c.getAsJsonArray("genes").forEach(g -> genes.add(g.getAsString()));
      cells.add(new CellPrompt(c.get("cell_id").getAsString(),
          c.get("cell_type").isJsonNull() ? null : c.get("cell_type").getAsString(), genes,
          c.get("prompt").getAsString()));
    }
    SortedMap<Integer, Transcoder> dictionaries = new TreeMap<>();
    try (SafetensorsReader reader = SafetensorsReader.open(FIXTURES.resolve("dictionaries.safetensors"))) {
      for (int layer = 0; layer < 2; layer++) {
        JsonObject l = expected.getAsJsonObject("layers").getAsJsonObject(Integer.toString(layer));
        TranscoderConfig c = EvaluateFixtures.config(TranscoderKind.parse(l.get("kind").getAsString()), layer, 32,
            l.get("d_sae").getAsInt());
        String p = "layer" + layer + ".";
        dictionaries.put(layer, Transcoder.of(c, new ActivationScaling(1, 1, true), TrainingProvenance.untrained(c),
            Device.cpu(), reader.readFloats(p + "W_enc"), reader.readFloats(p + "b_enc"), reader.readFloats(p + "W_dec"),
            reader.readFloats(p + "b_dec")));
      }
    }
    try {
      ExecutorModels.Loaded loaded = ExecutorModels.get(FIXTURES.resolve("model").toString(), "cpu", "fp32", 1,
          new Configuration());
      CellEvaluator evaluator = new CellEvaluator(loaded, dictionaries, CellEvaluatorTest.params(400));
      EvaluationSums sums = evaluator.emptySums();
      evaluator.evaluate(cells, sums);
      EvaluationResult got = EvaluationResult.of(sums, List.of("transcoder", "sae"));

      assertThat(got.answerTokens()).isEqualTo(expected.get("answer_tokens").getAsLong());
      assertThat(got.promptTokens()).isEqualTo(expected.get("prompt_tokens").getAsLong());
      JsonObject variants = expected.getAsJsonObject("variants");
      assertThat(got.variants()).hasSize(variants.size());
      for (EvaluationResult.VariantScore v : got.variants()) {
        JsonObject want = variants.getAsJsonObject(v.variant());
        // fp32 forward against float64: a few ulps of fp32 per op over two layers.
        for (String key : List.of("answer_loss", "prompt_loss", "kl", "answer_kl")) {
          double w = want.get(key).getAsDouble();
          double g = switch (key) {
            case "answer_loss" -> v.answerLoss();
            case "prompt_loss" -> v.promptLoss();
            case "kl" -> v.kl();
            default -> v.answerKl();
          };
          assertThat(g).as("%s %s", v.variant(), key).isCloseTo(w, within(2e-5 * Math.abs(w) + 2e-6));
        }
      }
      for (EvaluationResult.LayerScore l : got.layers()) {
        JsonObject want = expected.getAsJsonObject("layers").getAsJsonObject(Integer.toString(l.layer()));
        assertThat(l.tokens()).isEqualTo(want.get("tokens").getAsLong());
        double ev = want.get("explained_variance").getAsDouble();
        assertThat(l.explainedVariance()).as("layer %d EV", l.layer()).isCloseTo(ev, within(1e-4 * Math.abs(ev)));
        assertThat(l.l0()).as("layer %d L0", l.layer()).isCloseTo(want.get("l0").getAsDouble(),
            within(1.0 / l.tokens()));
        assertThat(l.neverFiredShare()).isEqualTo(want.get("never_fired_share").getAsDouble());
        assertThat(l.kind()).isEqualTo(want.get("kind").getAsString());
      }
    } finally {
      dictionaries.values().forEach(Transcoder::close);
    }
  }
}
