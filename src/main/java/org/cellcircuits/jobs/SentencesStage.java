package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import org.cellcircuits.io.ParquetFolder;
import org.cellcircuits.io.StageResult;
import org.cellcircuits.sentences.AtlasOptions;
import org.cellcircuits.sentences.AtlasReader;
import org.cellcircuits.sentences.AtlasReaders;
import org.cellcircuits.sentences.AtlasSource;
import org.cellcircuits.sentences.SentencesJob;
import org.cellcircuits.sentences.SentencesParams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code sentences} stage: the atlas named by {@code sentences.atlas.path} to the {@code sentences} table
 * ({@link SentencesJob}).
 */
public final class SentencesStage implements Stage {
  public static final String NAME = "sentences";
  /** The one table this stage writes; later stages read it with {@code root.committedPath("sentences", TABLE)}. */
  public static final String TABLE = "sentences";
  private static final Logger LOG = LoggerFactory.getLogger(SentencesStage.class);

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "atlas (.h5ad, 10x .mtx, Parquet) -> C2S cell sentences and prompts";
  }

  @Override
  public List<String> upstream() {
    return List.of();
  }

  @Override
  public Map<String, String> externalInputs(Config all) {
    return Map.of("atlas", atlasPath(all));
  }

  /** The atlas options and the sentence parameters (not the atlas itself: it may not exist yet when a plan runs). */
  @Override
  public void validate(Config all) {
    Config section = all.getConfig(ConfigLoader.ROOT).getConfig(NAME);
    AtlasOptions.fromConfig(section.getConfig("atlas"));
    SentencesParams.fromConfig(section);
  }

  @Override
  public StageResult write(StageContext ctx, String attemptDir) throws Exception {
    long t0 = System.nanoTime();
    double cpu0 = processCpuSeconds();
    Config section = ctx.config().getConfig(ConfigLoader.ROOT).getConfig(NAME);
    AtlasSource source = AtlasReaders.source(atlasPath(ctx.config()),
        AtlasOptions.fromConfig(section.getConfig("atlas")));
    SentencesParams params = SentencesParams.fromConfig(section);
    long cells;
    try (AtlasReader reader = source.open()) {
      cells = reader.meta().nCells();
    }
    String out = attemptDir + "/" + TABLE;
    SentencesJob.Plan plan;
    try (Progress progress = ctx.progress("sentences", "cells", cells)) {
      plan = SentencesJob.plan(ctx.spark(), source, params, progress.counter());
      progress.refreshJobDescription();
      plan.writeParquet(out);
    }
    // The files' footers give the count without a scan; a mismatch means rows were lost or doubled on the way.
    long written = ParquetFolder.rowCount(ctx.hadoop(), out);
    if (written != plan.outputRows()) {
      throw new IllegalStateException(String.format("sentences: wrote %d rows to %s but the atlas has %d cells of "
          + "which %d were filtered; expected %d rows", written, out, plan.inputCells(), plan.droppedCells(),
          plan.outputRows()));
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    // Process CPU (every thread: tasks, JIT, GC) beside the wall time: on a shared machine it is the fair figure.
    LOG.info("sentences: {} cells in, {} filtered out, {} sentences written to {} in {} s ({} cells/s; {} CPU-s "
            + "in this JVM)", plan.inputCells(), plan.droppedCells(), written, out, String.format("%.2f", seconds),
        String.format("%.0f", plan.inputCells() / Math.max(seconds, 1e-9)),
        String.format("%.2f", processCpuSeconds() - cpu0));
    return StageResult.of(Map.of(TABLE, written))
        .withStat("cells_input", plan.inputCells())
        .withStat("cells_filtered", plan.droppedCells())
        .withStat("genes_input", plan.inputGenes())
        .withStat("genes_kept", plan.keptGenes())
        .withStat("tie_break_draws", plan.tieBreakDraws());
  }

  private static double processCpuSeconds() {
    return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
        ? os.getProcessCpuTime() / 1e9 : Double.NaN;
  }

  private static String atlasPath(Config all) {
    String key = ConfigLoader.ROOT + "." + NAME + ".atlas.path";
    if (!all.hasPath(key)) {
      throw new BadConfigException(String.format("%s is not set: name the atlas (.h5ad file, 10x folder or Parquet "
          + "long table), e.g. --set sentences.atlas.path=demo/heart_demo.h5ad", key));
    }
    return all.getString(key);
  }
}
