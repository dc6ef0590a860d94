package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cellcircuits.harvest.ActivationSchema;
import org.cellcircuits.harvest.HarvestJob;
import org.cellcircuits.harvest.HarvestParams;
import org.cellcircuits.harvest.LayerManifest;
import org.cellcircuits.io.StageResult;

/**
 * The {@code harvest} stage: reads the committed sentences, runs the model over them ({@link HarvestJob}) and reports
 * one table per stored layer ({@code activations/layer=L}) plus {@code predictions}, with the figures a reader needs
 * in the marker's stats: {@code d_model}, stored tokens per layer, bytes per stored token, accuracy.
 */
public final class HarvestStage implements Stage {
  @Override
  public String name() {
    return "harvest";
  }

  @Override
  public String description() {
    return "run the C2S model over the sentences; keep every layer's MLP input and output";
  }

  @Override
  public List<String> upstream() {
    return List.of("sentences");
  }

  /**
   * The harvest, model and split sections: a different model or device setting makes other activations, another split
   * stores other cells.
   */
  @Override
  public Config stageConfig(Config all) {
    return Stage.sections(all, "harvest", "model", "split");
  }

  @Override
  public Map<String, String> externalInputs(Config all) {
    return Stage.modelInput(all);
  }

  @Override
  public void validate(Config all) {
    org.cellcircuits.harvest.HarvestParams.fromConfig(all);
  }

  @Override
  public StageResult write(StageContext ctx, String attemptDir) throws Exception {
    HarvestParams params = HarvestParams.fromConfig(ctx.config());
    String sentences = ctx.root().committedPath("sentences", "sentences").toString();
    long cells = ctx.root().requireCommitted("sentences").rowCounts().get("sentences");
    HarvestJob.Outcome outcome;
    try (Progress cellProgress = ctx.progress("harvest", "cells", cells);
        Progress tokenProgress = ctx.progress("harvest", "prompt tokens", 0)) {
      outcome = HarvestJob.run(ctx.spark(), sentences, cells, params, attemptDir, cellProgress.counter(),
          tokenProgress.counter());
    }
    Map<String, Long> rows = new LinkedHashMap<>();
    for (LayerManifest m : outcome.manifests().values()) {
      rows.put(ActivationSchema.layerTable(m.layer()), m.rows());
    }
    rows.put("predictions", outcome.cells());
    StageResult result = StageResult.of(rows)
        .withStat("d_model", outcome.dModel())
        .withStat("layers", outcome.layers().size())
        .withStat("cells", outcome.cells())
        .withStat("prompt_tokens", outcome.promptTokens())
        .withStat("stored_tokens_per_layer", outcome.storedTokensPerLayer())
        .withStat("bytes_per_stored_token", outcome.bytesPerStoredToken())
        .withStat("raw_fp16_bytes_per_stored_token", 4.0 * outcome.dModel())
        .withStat("padding_waste", outcome.paddingWaste())
        .withStat("decoded_cells", outcome.decodedCells())
        .withStat("seconds", outcome.seconds());
    return Double.isNaN(outcome.accuracy()) ? result : result.withStat("accuracy", outcome.accuracy());
  }
}
