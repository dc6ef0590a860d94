package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.cellcircuits.circuits.CircuitParams;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageResult;

/**
 * The {@code circuits} stage: an attribution graph per chosen cell through the committed transcoders, pruned, scored
 * and checked by ablation, summarised per cell type ({@link CircuitsJob}). Tables {@code circuits/graphs},
 * {@code circuits/nodes}, {@code circuits/edges}, {@code circuits/summary}, {@code circuits/export} (circuit-tracer JSON)
 * and {@code circuits/summary.txt}, the per-type table printed after the stage.
 */
public final class CircuitsStage implements Stage {
  @Override
  public String name() {
    return "circuits";
  }

  @Override
  public String description() {
    return "attribution graphs per cell through the transcoders, pruned, scored, summarised per cell type";
  }

  /** The harvest for its predictions (the predicted type each circuit explains), train for the transcoders. */
  @Override
  public List<String> upstream() {
    return List.of("sentences", "harvest", "train");
  }

  @Override
  public Config stageConfig(Config all) {
    return Stage.sections(all, "circuits", "model", "split");
  }

  @Override
  public Map<String, String> externalInputs(Config all) {
    Map<String, String> in = new LinkedHashMap<>(Stage.modelInput(all));
    String key = ConfigLoader.ROOT + ".circuits.markers-path";
    if (!all.getIsNull(key)) {
      in.put("markers", all.getString(key));
    }
    return in;
  }

  @Override
  public void validate(Config all) {
    CircuitParams.fromConfig(all);
  }

  @Override
  public StageResult write(StageContext ctx, String attemptDir) throws Exception {
    CircuitParams params = CircuitParams.fromConfig(ctx.config());
    CircuitsJob.Plan plan = CircuitsJob.plan(ctx.spark(), ctx.root(), params);
    CircuitsJob.Outcome outcome;
    try (Progress progress = ctx.progress("circuits", "cells", plan.cellIds().size())) {
      outcome = CircuitsJob.run(ctx.spark(), plan, params, attemptDir, progress.counter());
    }
    StageResult result = StageResult.of(Map.of(
        CircuitsJob.GRAPHS_TABLE, outcome.graphs(),
        CircuitsJob.NODES_TABLE, outcome.nodes(),
        CircuitsJob.EDGES_TABLE, outcome.edges(),
        CircuitsJob.SUMMARY_TABLE, outcome.summary(),
        CircuitsJob.EXPORT_DIR, outcome.exports(),
        CircuitsJob.TABLE_FILE, 1L));
    for (Map.Entry<String, Double> e : outcome.stats().entrySet()) {
      result = result.withStat(e.getKey(), e.getValue());
    }
    return result;
  }

  /** The per-type table the stage wrote next to its tables. */
  @Override
  public String report(StageMarker marker, RunRoot root) throws IOException {
    Path file = new Path(root.attemptPath(name(), marker.attemptId()), CircuitsJob.TABLE_FILE);
    try (InputStream in = file.getFileSystem(root.hadoop()).open(file)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (FileNotFoundException e) {
      return "(the circuits table " + file + " is missing)";
    }
  }
}
