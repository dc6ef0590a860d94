package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cellcircuits.io.SoftwareVersions;
import org.cellcircuits.io.StageMarker;
import org.junit.jupiter.api.Test;

/**
 * The view names {@link RunTables} gives the tables of a marker, which the notebook's {@code view_name} must give too
 * (the same cases, run through the Python by hand, are in the comment of each assertion), and the query files' header
 * rules ({@link NamedQuery}).
 */
class RunTablesTest {
  private static StageMarker marker(String stage, String... tables) {
    Map<String, Long> rows = new LinkedHashMap<>();
    for (String t : tables) {
      rows.put(t, 1L);
    }
    return new StageMarker(StageMarker.FORMAT_VERSION, stage, "a1", "0".repeat(64), "{}", Map.of(), rows, Map.of(),
        Instant.EPOCH, new SoftwareVersions("x", "x", "x", "x"));
  }

  @Test
  void viewsAreStageAndTableWithTheStageNotRepeatedAndNonParquetEntriesSkipped() {
    assertThat(RunTables.views(marker("interpret", "features", "interpretability.txt", "report",
        "validation/knockouts", "validation/summary")))
        .containsExactly(Map.entry("interpret_features", "features"),
            Map.entry("interpret_validation_knockouts", "validation/knockouts"),
            Map.entry("interpret_validation_summary", "validation/summary"));
    assertThat(RunTables.views(marker("circuits", "circuits/graphs", "circuits/nodes", "circuits/edges",
        "circuits/summary", "circuits/export", "circuits/summary.txt")).keySet())
        .containsExactly("circuits_edges", "circuits_graphs", "circuits_nodes", "circuits_summary");
    assertThat(RunTables.views(marker("evaluate", "evaluation/summary", "evaluation/layers",
        "evaluation/evaluation.json")).keySet())
        .containsExactly("evaluate_evaluation_layers", "evaluate_evaluation_summary");
    assertThat(RunTables.views(marker("train", "train_log", "transcoders/layer=0", "transcoders/layer=1")))
        .containsExactly(Map.entry("train_log", "train_log"));
    assertThat(RunTables.views(marker("harvest", "activations/layer=0", "activations/layer=12", "predictions")))
        .containsExactly(Map.entry("harvest_activations_layer_0", "activations/layer=0"),
            Map.entry("harvest_activations_layer_12", "activations/layer=12"),
            Map.entry("harvest_predictions", "predictions"));
    assertThat(RunTables.views(marker("sentences", "sentences"))).containsExactly(Map.entry("sentences", "sentences"));
    // a table merely starting with the stage's letters is still prefixed
    assertThat(RunTables.viewName("train", "trainer")).contains("train_trainer");
    assertThatThrownBy(() -> RunTables.views(marker("interpret", "a/b", "a_b")))
        .hasMessageContaining("would both be view interpret_a_b");
  }

  @Test
  void theNotebookRegistersTheStagesThePipelineRuns() {
    assertThat(RunTables.STAGES).containsExactlyElementsOf(
        StageRegistry.defaults().inOrder().stream().map(Stage::name).toList());
  }

  @Test
  void aQueryHeaderDeclaresItsParamsAndValuesBecomeLiterals() {
    NamedQuery q = NamedQuery.parse("q", """
        -- What it answers,
        -- on two lines.
        -- param: cell_type string
        -- param: top int = 10
        -- param: min double = 0.5
        -- reads: a_view, b_view
        SELECT * FROM a_view WHERE t = ${cell_type} AND r <= ${top} AND s >= ${min} AND u = ${cell_type}
        """);
    assertThat(q.description()).isEqualTo("What it answers, on two lines.");
    assertThat(q.reads()).containsExactly("a_view", "b_view");
    assertThat(q.required()).containsExactly("cell_type");
    assertThat(q.render(Map.of("cell_type", "it's \\ odd")))
        .isEqualTo("SELECT * FROM a_view WHERE t = 'it\\'s \\\\ odd' AND r <= 10 AND s >= 0.5 AND u = 'it\\'s \\\\ odd'");
    assertThat(q.render(Map.of("cell_type", "x", "top", 3, "min", 1))).endsWith("r <= 3 AND s >= 1.0 AND u = 'x'");
    assertThatThrownBy(() -> q.render(Map.of("cell_type", "x", "min", "0.5; DROP")))
        .hasMessageContaining("q param min is '0.5; DROP'; expected a number");
    assertThatThrownBy(() -> q.render(Map.of("cell_type", "x", "limit", 3)))
        .hasMessageContaining("query q has no param limit; its params are [cell_type, top, min]");
    assertThatThrownBy(() -> NamedQuery.parse("u", "-- param: a int\nSELECT ${b}"))
        .hasMessageContaining("query u uses ${b} but declares no such param");
    assertThatThrownBy(() -> NamedQuery.parse("u", "-- param: a int\nSELECT 1"))
        .hasMessageContaining("declares param a but never uses ${a}");
    assertThatThrownBy(() -> NamedQuery.parse("u", "-- param: a float\nSELECT ${a}"))
        .hasMessageContaining("header line '-- param: a float' is invalid");
    assertThatThrownBy(() -> NamedQuery.parse("u", "-- param: a int = ten\nSELECT ${a}"))
        .hasMessageContaining("expected an integer");
  }

  @Test
  void everyQueryFileParsesAndNamesTheViewsItReads() throws Exception {
    List<NamedQuery> all = NamedQuery.loadAll(NotebookQueries.FOLDER);
    assertThat(all).hasSizeGreaterThanOrEqualTo(10);
    for (NamedQuery q : all) {
      assertThat(q.description()).as("description of %s", q.name()).isNotBlank();
      assertThat(q.reads()).as("views of %s", q.name()).isNotEmpty()
          .allSatisfy(v -> assertThat(q.sql()).as("%s reads %s", q.name(), v).contains(v));
    }
  }
}
