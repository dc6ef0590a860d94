package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.cellcircuits.interpret.InterpretParams;
import org.cellcircuits.interpret.InterpretSettings;
import org.cellcircuits.interpret.ValidationSettings;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageResult;

/**
 * The {@code interpret} stage: every feature of every committed transcoder read off the committed harvest
 * ({@link InterpretJob}): firing frequency, top examples, gene-level score, cell-type specificity, enrichment of its
 * top genes in the configured gene sets, and a label. Table {@code features/} (one row per layer and feature) and
 * {@value InterpretJob#TABLE_FILE}, the per-layer figures and interpretability table printed after the stage. Then the
 * knockout check of the committed circuits ({@link ValidationJob}): {@code validation/knockouts},
 * {@code validation/summary} and its printed table. Last, the static HTML report over all of it ({@link ReportJob},
 * {@code report/index.html}).
 */
public final class InterpretStage implements Stage {
  /** The HTML report's folder under the attempt. */
  public static final String REPORT_DIR = ReportJob.REPORT_DIR;

  @Override
  public String name() {
    return "interpret";
  }

  @Override
  public String description() {
    return "every feature read off the harvest: top genes, gene-level score, cell-type specificity, enrichment, label";
  }

  /**
   * Sentences for the cell types and prompts, harvest for the activations, train for the transcoders, circuits for the
   * graphs the knockouts check and the report draws.
   */
  @Override
  public List<String> upstream() {
    return List.of("sentences", "harvest", "train", "circuits");
  }

  /**
   * Without the knockout check ({@code interpret.validation.cells-per-type = 0}) the stage reads no circuits: an SAE
   * run, whose dictionaries cannot replace MLPs, has none, and its features are interpreted all the same.
   */
  @Override
  public List<String> upstream(Config all) {
    int cells;
    try {
      cells = all.getInt(ValidationSettings.SECTION + ".cells-per-type");
    } catch (com.typesafe.config.ConfigException e) {
      return upstream(); // the stage reports the bad value when it reads its settings
    }
    return cells > 0 ? upstream() : List.of("sentences", "harvest", "train");
  }

  /** The knockout check reruns the model. */
  @Override
  public Config stageConfig(Config all) {
    return Stage.sections(all, "interpret", "model");
  }

  /**
   * The gene-set files, fingerprinted so that an edited marker table reruns the stage; named by their keys, so a
   * missing file is reported as {@code input interpret.markers-path not found: <path>}.
   */
  @Override
  public Map<String, String> externalInputs(Config all) {
    Map<String, String> in = new LinkedHashMap<>(Stage.modelInput(all));
    for (String key : new String[] {"markers-path", "gene-sets-path"}) {
      String path = InterpretParams.SECTION + "." + key;
      if (all.hasPath(path) && !all.getIsNull(path)) {
        in.put("interpret." + key, all.getString(path));
      }
    }
    return in;
  }

  @Override
  public void validate(Config all) {
    InterpretSettings.fromConfig(all);
    ValidationSettings.fromConfig(all);
  }

  @Override
  public StageResult write(StageContext ctx, String attemptDir) throws Exception {
    InterpretSettings settings;
    ValidationSettings validation;
    try {
      settings = InterpretSettings.fromConfig(ctx.config());
      validation = ValidationSettings.fromConfig(ctx.config());
    } catch (IllegalArgumentException e) {
      throw new BadConfigException(e.getMessage(), e);
    }
    InterpretJob.Plan plan = InterpretJob.plan(ctx.spark(), ctx.root(), settings);
    InterpretJob.Outcome outcome;
    try (Progress progress = ctx.progress("interpret", "tokens", plan.tokenPasses(settings.featureShards()))) {
      outcome = InterpretJob.run(ctx.spark(), plan, settings, attemptDir, progress);
    }
    Map<String, Long> rows = new LinkedHashMap<>();
    rows.put(InterpretJob.FEATURES_TABLE, outcome.features());
    rows.put(InterpretJob.TABLE_FILE, 1L);
    Map<String, Double> stats = new TreeMap<>(outcome.stats());
    if (validation.enabled()) {
      ValidationJob.Plan vplan = ValidationJob.plan(ctx.spark(), ctx.root(), validation);
      ValidationJob.Outcome v;
      try (Progress progress = ctx.progress("interpret knockouts", "cells", vplan.cells().size())) {
        v = ValidationJob.run(ctx.spark(), vplan, validation, attemptDir, progress.counter());
      }
      rows.put(ValidationJob.KNOCKOUTS_TABLE, v.knockouts());
      rows.put(ValidationJob.SUMMARY_TABLE, v.summaryRows());
      rows.put(ValidationJob.TABLE_FILE, 1L);
      for (String kind : List.of("gene", "feature")) {
        double median = v.summary().medianSpearman(kind);
        if (!Double.isNaN(median)) {
          stats.put("validation_" + kind + "_median_spearman", median);
        }
        stats.put("validation_" + kind + "_positive_types", (double) v.summary().positiveTypes(kind));
      }
      stats.put("validation_cells", (double) vplan.cells().size());
    }
    // last, so it shows the knockout tables just written
    rows.put(REPORT_DIR, ReportJob.write(ctx.spark(), ctx.root(), attemptDir, validation.enabled()));
    StageResult result = StageResult.of(rows);
    for (Map.Entry<String, Double> e : stats.entrySet()) {
      result = result.withStat(e.getKey(), e.getValue());
    }
    return result;
  }

  /** The per-layer figures and interpretability table, then the knockout table, as the stage wrote them. */
  @Override
  public String report(StageMarker marker, RunRoot root) throws IOException {
    StringBuilder out = new StringBuilder(InterpretJob.readTable(root, marker, InterpretJob.TABLE_FILE));
    if (marker.rowCounts().containsKey(ValidationJob.TABLE_FILE)) {
      out.append(System.lineSeparator()).append(InterpretJob.readTable(root, marker, ValidationJob.TABLE_FILE));
    }
    out.append(System.lineSeparator()).append(headline(marker));
    if (marker.rowCounts().containsKey(REPORT_DIR)) {
      out.append(String.format(Locale.ROOT, "HTML report (%,d files, opens offline): %s/index.html%n",
          marker.rowCounts().get(REPORT_DIR), root.committedPath(name(), REPORT_DIR)));
    }
    return out.toString();
  }

  /** The figures a reader looks for first, from the marker. */
  static String headline(StageMarker marker) {
    Map<String, Double> s = marker.stats();
    StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
        "interpret: %.1f%% of %,.0f live features gene-level (the paper's hand count: 35%%)",
        100 * s.getOrDefault("gene_level_share", 0.0), s.getOrDefault("live_features", 0.0)));
    if (s.containsKey("marker_types")) {
      out.append(String.format(Locale.ROOT, "; %,.0f of %,.0f cell types have a gene-level feature for one of their "
          + "markers", s.get("marker_types_with_gene_level_feature"), s.get("marker_types")));
    }
    for (String kind : List.of("gene", "feature")) {
      Double rho = s.get("validation_" + kind + "_median_spearman");
      if (rho != null) {
        out.append(String.format(Locale.ROOT, "; median rho %s %+.2f", kind.equals("gene") ? "gene knockout"
            : "feature zeroed", rho));
      }
    }
    return out.append(System.lineSeparator()).toString();
  }
}
