package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cellcircuits.interpret.InterpretParams;
import org.cellcircuits.interpret.InterpretSettings;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageResult;

/**
 * The {@code interpret} stage: every feature of every committed transcoder read off the committed harvest
 * ({@link InterpretJob}): firing frequency, top examples, gene-level score, cell-type specificity, enrichment of its
 * top genes in the configured gene sets, and a label. Table {@code features/} (one row per layer and feature) and
 * {@value InterpretJob#TABLE_FILE}, the per-layer figures and interpretability table printed after the stage.
 */
public final class InterpretStage implements Stage {
  @Override
  public String name() {
    return "interpret";
  }

  @Override
  public String description() {
    return "every feature read off the harvest: top genes, gene-level score, cell-type specificity, enrichment, label";
  }

  /** Sentences for the cell types, harvest for the activations, train for the transcoders. */
  @Override
  public List<String> upstream() {
    return List.of("sentences", "harvest", "train");
  }

  /**
   * The gene-set files, fingerprinted so that an edited marker table reruns the stage; named by their keys, so a
   * missing file is reported as {@code input interpret.markers-path not found: <path>}.
   */
  @Override
  public Map<String, String> externalInputs(Config all) {
    Map<String, String> in = new LinkedHashMap<>();
    for (String key : new String[] {"markers-path", "gene-sets-path"}) {
      String path = InterpretParams.SECTION + "." + key;
      if (all.hasPath(path) && !all.getIsNull(path)) {
        in.put("interpret." + key, all.getString(path));
      }
    }
    return in;
  }

  @Override
  public StageResult write(StageContext ctx, String attemptDir) throws Exception {
    InterpretSettings settings;
    try {
      settings = InterpretSettings.fromConfig(ctx.config());
    } catch (IllegalArgumentException e) {
      throw new BadConfigException(e.getMessage(), e);
    }
    InterpretJob.Plan plan = InterpretJob.plan(ctx.spark(), ctx.root(), settings);
    InterpretJob.Outcome outcome;
    try (Progress progress = ctx.progress("interpret", "tokens", plan.tokenPasses(settings.featureShards()))) {
      outcome = InterpretJob.run(ctx.spark(), plan, settings, attemptDir, progress);
    }
    StageResult result = StageResult.of(Map.of(
        InterpretJob.FEATURES_TABLE, outcome.features(),
        InterpretJob.TABLE_FILE, 1L));
    for (Map.Entry<String, Double> e : outcome.stats().entrySet()) {
      result = result.withStat(e.getKey(), e.getValue());
    }
    return result;
  }

  /** The per-layer figures and interpretability table the stage wrote next to its table. */
  @Override
  public String report(StageMarker marker, RunRoot root) throws IOException {
    return InterpretJob.readTable(root, marker);
  }
}
