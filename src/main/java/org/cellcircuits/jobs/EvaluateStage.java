package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import java.util.List;
import java.util.Map;
import org.cellcircuits.evaluate.EvaluateJob;
import org.cellcircuits.evaluate.EvaluateParams;
import org.cellcircuits.evaluate.EvaluationResult;
import org.cellcircuits.io.CanonicalConfig;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageResult;

/**
 * The {@code evaluate} stage: scores the held-out cells of the committed sentences with the model as it is, with every
 * MLP replaced by its committed transcoder, with every MLP zeroed and with each layer replaced alone
 * ({@link EvaluateJob}). Tables {@code evaluation/summary}, {@code evaluation/layers} and
 * {@code evaluation/evaluation.json}; the figures also go to the marker's stats ({@link EvaluationResult#stats()}).
 */
public final class EvaluateStage implements Stage {
  @Override
  public String name() {
    return "evaluate";
  }

  @Override
  public String description() {
    return "loss, KL and accuracy of the model with its MLPs replaced by transcoders, on held-out cells";
  }

  @Override
  public List<String> upstream() {
    return List.of("sentences", "train");
  }

  /** The evaluate, model and split sections: another model, device or split scores other numbers. */
  @Override
  public Config stageConfig(Config all) {
    return Stage.sections(all, "evaluate", "model", "split");
  }

  @Override
  public Map<String, String> externalInputs(Config all) {
    return Stage.modelInput(all);
  }

  @Override
  public void validate(Config all) {
    org.cellcircuits.evaluate.EvaluateParams.fromConfig(all);
  }

  @Override
  public StageResult write(StageContext ctx, String attemptDir) throws Exception {
    EvaluateParams params = EvaluateParams.fromConfig(ctx.config());
    EvaluateJob.Plan plan = EvaluateJob.plan(ctx.spark(), ctx.root(), params);
    EvaluateJob.Outcome outcome;
    try (Progress progress = ctx.progress("evaluate", "held-out cells", plan.cellIds().size())) {
      outcome = EvaluateJob.run(ctx.spark(), plan, params, attemptDir,
          CanonicalConfig.json(stageConfig(ctx.config()).resolve()), progress.counter());
    }
    EvaluationResult r = outcome.result();
    StageResult result = StageResult.of(Map.of(
        EvaluateJob.SUMMARY_TABLE, (long) r.variants().size(),
        EvaluateJob.LAYERS_TABLE, (long) r.layers().size(),
        EvaluateJob.JSON_FILE, 1L));
    for (Map.Entry<String, Double> e : r.stats().entrySet()) {
      result = result.withStat(e.getKey(), e.getValue());
    }
    return result.withStat("seconds", outcome.seconds());
  }

  /** The evaluation table, from the marker's stats. */
  @Override
  public String report(StageMarker marker) {
    return EvaluationResult.table(marker.stats());
  }
}
