package org.cellcircuits.jobs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.harvest.LayerManifest;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.StageMarker;

/**
 * Registers every committed Parquet table of a run root as a Spark temporary view, exactly as the analyst notebook
 * ({@code notebooks/cellcircuits_tables.py}, {@code register}) does, so that the queries of {@code notebooks/queries/}
 * ({@link NamedQuery}) run the same here, in tests and in the notebook. Tables are found through each stage's commit
 * marker, never by listing attempt folders: a crashed or running attempt is never read.
 *
 * <p>View names: {@code <stage>_<table>}, the table's {@code /}, {@code =} and other characters outside
 * {@code [A-Za-z0-9_]} turned into {@code _}; a table whose name already starts with its stage's name is not prefixed
 * again. So {@code interpret/features} is {@code interpret_features}, {@code interpret/validation/knockouts} is
 * {@code interpret_validation_knockouts}, {@code circuits/circuits/summary} is {@code circuits_summary},
 * {@code train/train_log} is {@code train_log}, {@code sentences/sentences} is {@code sentences},
 * {@code evaluate/evaluation/layers} is {@code evaluate_evaluation_layers} and {@code harvest/activations/layer=3} is
 * {@code harvest_activations_layer_3}.
 *
 * <p>Entries of a marker's row counts that are not Parquet tables are skipped: a name whose last segment has a file
 * extension ({@code interpretability.txt}, {@code circuits/summary.txt}, {@code evaluation/evaluation.json}) and
 * anything in or under a folder named {@code transcoders}, {@code export} or {@code report} (safetensors, circuit-tracer
 * JSON, HTML). A table folder holding a harvest {@code _manifest.json} is read through it: only the files the harvest
 * committed, never a failed task's leftovers.
 */
public final class RunTables {
  /** The stages whose tables are registered, in pipeline order; the notebook lists the same. */
  public static final List<String> STAGES =
      List.of("sentences", "harvest", "train", "evaluate", "circuits", "interpret");

  /** Folders whose contents are not Parquet tables. */
  public static final Set<String> NOT_PARQUET_FOLDERS = Set.of("transcoders", "export", "report");

  private static final Pattern FILE_EXTENSION = Pattern.compile(".*\\.[A-Za-z][A-Za-z0-9]*");
  private static final Pattern NOT_IDENTIFIER = Pattern.compile("[^A-Za-z0-9_]");

  private RunTables() {}

  /** The view of one committed table, or empty when the entry is not a Parquet table. */
  public static Optional<String> viewName(String stage, String table) {
    String[] segments = table.split("/");
    if (FILE_EXTENSION.matcher(segments[segments.length - 1]).matches()) {
      return Optional.empty();
    }
    for (String s : segments) {
      if (NOT_PARQUET_FOLDERS.contains(s)) {
        return Optional.empty();
      }
    }
    boolean prefixed = table.equals(stage) || table.startsWith(stage + "/") || table.startsWith(stage + "_");
    String name = prefixed ? table : stage + "_" + table;
    return Optional.of(NOT_IDENTIFIER.matcher(name).replaceAll("_"));
  }

  /**
   * View name to table for one stage's marker, sorted by view.
   *
   * @throws IllegalStateException when two tables would get the same view
   */
  public static Map<String, String> views(StageMarker marker) {
    Map<String, String> out = new TreeMap<>();
    for (String table : marker.rowCounts().keySet()) {
      Optional<String> view = viewName(marker.stage(), table);
      if (view.isPresent()) {
        String before = out.put(view.get(), table);
        if (before != null) {
          throw new IllegalStateException(String.format(
              "stage %s: tables %s and %s would both be view %s", marker.stage(), before, table, view.get()));
        }
      }
    }
    return out;
  }

  /**
   * Creates (or replaces) a temporary view for every committed Parquet table of every stage in {@link #STAGES} that
   * has committed under the root.
   *
   * @return view name to the path it reads, sorted by view
   */
  public static Map<String, String> register(SparkSession spark, RunRoot root) throws IOException {
    Map<String, String> registered = new TreeMap<>();
    FileSystem fs = root.fileSystem();
    for (String stage : STAGES) {
      Optional<StageMarker> marker = root.committed(stage);
      if (marker.isEmpty()) {
        continue;
      }
      Path attempt = root.attemptPath(stage, marker.get().attemptId());
      for (Map.Entry<String, String> e : views(marker.get()).entrySet()) {
        Path table = new Path(attempt, e.getValue());
        String[] files = {table.toString()};
        if (fs.exists(new Path(table, LayerManifest.NAME))) {
          List<String> listed = new ArrayList<>();
          for (LayerManifest.FileEntry f : LayerManifest.read(table, root.hadoop()).files()) {
            listed.add(new Path(table, f.name()).toString());
          }
          files = listed.toArray(String[]::new);
        }
        if (registered.containsKey(e.getKey())) {
          throw new IllegalStateException(String.format("view %s is made by two stages: %s and %s",
              e.getKey(), registered.get(e.getKey()), table));
        }
        spark.read().parquet(files).createOrReplaceTempView(e.getKey());
        registered.put(e.getKey(), table.toString());
      }
    }
    return registered;
  }
}
