package org.cellcircuits.circuits;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.cellcircuits.io.SoftwareVersions;
import org.cellcircuits.model.Fp32Bounds;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.PromptTokenizer;
import org.cellcircuits.transcoder.ActivationScaling;
import org.cellcircuits.transcoder.TrainingProvenance;
import org.cellcircuits.transcoder.Transcoder;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.junit.jupiter.api.Test;

/**
 * Completeness on the shipped demo model (4 layers, d_model 128, parallel residual) and a real C2S prompt: for the
 * target and a sample of active features, the edges from every node plus the row's bias terms give back the value the
 * model computed. Transcoders are random (the trained ones come from the pipeline), which only changes how much the
 * error nodes carry, not the bookkeeping.
 */
class DemoModelCompletenessTest {

  @Test
  void everyRowAddsUpOnTheDemoModel() throws Exception {
    Path dir = Path.of("demo/model");
    String prompt = "The following is a list of 12 gene names ordered by descending expression level in a Homo sapiens "
        + "cell. Your task is to give the cell type which this cell belongs to based on its gene expression.\n"
        + "Cell sentence: VWF PECAM1 CDH5 PTPRB EMCN AQP1 SPARCL1 TIE1 FLT1 EGFL7 MALAT1 TMSB10.\n"
        + "The cell type corresponding to these genes is:";
    try (GptNeoX model = GptNeoX.load(dir, Device.cpu());
        PromptTokenizer tok = PromptTokenizer.load(dir.resolve("tokenizer.json"));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      int c = model.config().hiddenSize();
      int s = 256;
      Random r = new Random(3);
      Map<Integer, Transcoder> tcs = new TreeMap<>();
      for (int l = 0; l < model.config().numLayers(); l++) {
        TranscoderConfig cfg = TranscoderConfig.builder().modelName("demo").layer(l).dIn(c).dOut(c).dSae(s)
            .trainingTokens(4096L * 100).lrWarmUpSteps(10).lrDecaySteps(20).l1WarmUpSteps(5).build();
        tcs.put(l, Transcoder.of(cfg, new ActivationScaling(1, 1, true),
            new TrainingProvenance(1, 2, cfg.hash(), SoftwareVersions.current()), Device.cpu(),
            TinyCircuitModels.random(r, c * s, 0.1), TinyCircuitModels.random(r, s, 0.1),
            TinyCircuitModels.random(r, s * c, 0.1), TinyCircuitModels.random(r, c, 0.1)));
      }
      try (ReplacementWeights w = new ReplacementWeights(model, tcs);
          LocalReplacementModel cell = LocalReplacementModel.of(model, w, tok.encode(prompt).ids(), m)) {
        assertThat(cell.positions()).isGreaterThan(40);
        assertThat(cell.featureCount()).isGreaterThan(1000);
        float[] logits = cell.lastLogits();
        int best = OutputTarget.argmax(logits);
        OutputTarget target = OutputTarget.logit(best, "argmax");
        List<RowTarget> targets = new ArrayList<>();
        List<Double> totals = new ArrayList<>();
        targets.add(RowTarget.output());
        totals.add((double) logits[best]);
        for (int k = 0; k < 40; k++) {
          int col = r.nextInt(cell.featureCount());
          targets.add(cell.featureTarget(col));
          totals.add((double) cell.featureActivation(col));
        }
        LocalReplacementModel.Rows rows = cell.rows(targets, target);
        for (int i = 0; i < targets.size(); i++) {
          double sum = rows.constants()[i];
          double scale = Math.abs(sum);
          for (float e : rows.edges()[i]) {
            sum += e;
            scale += Math.abs(e);
          }
          // Fp32Bounds.deep over one row's chain at the demo's shape, scaled by the row's sum of |terms|
          // (TinyCircuitModels.rowScale), as in LocalReplacementModelTest. Measured at 1 and 2 libtorch threads: max
          // |difference| 1.7e-6, smallest margin 1378x.
          double bound = Fp32Bounds.deep(TinyCircuitModels.rowChain(c, model.config().numLayers(), s,
              cell.positions()), scale);
          assertThat(Math.abs(sum - totals.get(i))).as("%s: edges + constant %s, value %s", targets.get(i), sum,
              totals.get(i)).isLessThanOrEqualTo(bound);
        }
      } finally {
        tcs.values().forEach(Transcoder::close);
      }
    }
  }
}
