package org.cellcircuits.jobs;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.Serializable;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.cellcircuits.circuits.CellCircuit;
import org.cellcircuits.circuits.CircuitExtractor;
import org.cellcircuits.circuits.CircuitSettings;
import org.cellcircuits.circuits.CircuitTracerJson;
import org.cellcircuits.circuits.GraphExport;
import org.cellcircuits.circuits.OutputTarget;
import org.cellcircuits.circuits.ReplacementWeights;
import org.cellcircuits.circuits.TargetSpec;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.model.TokenizedPrompt;
import org.cellcircuits.runtime.ExecutorModels;

/**
 * The circuits stage's per-cell work, the one code path shared by {@link CircuitsJob}'s tasks and
 * {@code org.cellcircuits.ml.CircuitTransformer}: one cell (id, annotated type, genes, prompt, predicted type) in; its
 * graph row ({@link CircuitsJob#GRAPHS_SCHEMA}), its kept nodes ({@link CircuitsJob#NODES_SCHEMA}), its kept edges
 * ({@link CircuitsJob#EDGES_SCHEMA}) and, when asked, its circuit-tracer JSON out. The maths is
 * {@link CircuitExtractor}'s; the model and the transcoders are the executor JVM's ({@link ExecutorModels},
 * {@link CircuitsJob#replacementWeights}). One instance per task: the extractor is one per thread.
 */
public final class CellTracer {
  /**
   * What a task needs to trace cells, settled on the driver.
   *
   * @param modelPath the HuggingFace checkpoint folder (model.path)
   * @param device model.device
   * @param precision model.precision
   * @param transcoders layer to transcoder folder (a train stage's {@code transcoders/layer=L/}), at least one
   * @param target what each circuit explains (circuits.target)
   * @param settings node budget, batching, pruning, token limit, ablation
   * @param seed seeds the random features of the ablation check (circuits.seed)
   */
  public record Spec(String modelPath, String device, String precision, SortedMap<Integer, String> transcoders,
      TargetSpec target, CircuitSettings settings, long seed) implements Serializable {
    private static final long serialVersionUID = 1L;

    public Spec {
      Objects.requireNonNull(modelPath, "modelPath");
      Objects.requireNonNull(device, "device");
      Objects.requireNonNull(precision, "precision");
      Objects.requireNonNull(target, "target");
      Objects.requireNonNull(settings, "settings");
      if (transcoders == null || transcoders.isEmpty()) {
        throw new IllegalArgumentException("circuits need at least one layer's transcoder; none given");
      }
      transcoders = new TreeMap<>(transcoders);
    }
  }

  /** One cell's rows: graph, kept nodes, kept edges (each with the cell id first), and its JSON or null. */
  public record CellRows(Row graph, List<Row> nodes, List<Row> edges, String export) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  private final Spec spec;
  private final ExecutorModels.Loaded loaded;
  private final CircuitExtractor extractor;

  private CellTracer(Spec spec, ExecutorModels.Loaded loaded, CircuitExtractor extractor) {
    this.spec = spec;
    this.loaded = loaded;
    this.extractor = extractor;
  }

  /**
   * A tracer for the calling task: the model (on the task's {@code spark.task.cpus} threads, or 1 outside a task) and
   * transcoders this JVM holds, loaded on first use.
   */
  public static CellTracer forTask(Spec spec, Configuration hadoop) {
    TaskContext tc = TaskContext.get();
    ExecutorModels.Loaded loaded = ExecutorModels.get(spec.modelPath(), spec.device(), spec.precision(),
        tc == null ? 1 : tc.cpus(), hadoop);
    ReplacementWeights weights = CircuitsJob.replacementWeights(loaded, spec.transcoders(), hadoop);
    return new CellTracer(spec, loaded, new CircuitExtractor(loaded.model(), weights, spec.settings(), spec.seed()));
  }

  /**
   * A row laid out as the stage reads it: {@code cell_id, cell_type, genes, prompt, predicted_cell_type}.
   *
   * @param export also write the circuit-tracer JSON
   */
  public CellRows trace(Row r, boolean export) {
    return trace(r.getString(0), r.isNullAt(1) ? null : r.getString(1), r.isNullAt(2) ? List.of() : r.getList(2),
        r.isNullAt(3) ? null : r.getString(3), r.isNullAt(4) ? null : r.getString(4), export);
  }

  /**
   * One cell's circuit as rows.
   *
   * @param cellType the annotated type, or null
   * @param genes the genes the prompt spells, in order (maps tokens to genes)
   * @param prompt the cell's prompt; null fails naming the cell
   * @param predicted the type the model predicted (the harvest's), or null; recorded and named in the target label
   * @param export also write the circuit-tracer JSON
   */
  public CellRows trace(String cellId, String cellType, List<String> genes, String prompt, String predicted,
      boolean export) {
    if (prompt == null) {
      throw new IllegalArgumentException(String.format("cell %s has no prompt (null)", cellId));
    }
    TokenizedPrompt tokens = new CellPrompt(cellId, cellType, genes, prompt).tokenize(loaded.prompts());
    CellCircuit c = extractor.extract(cellId, cellType, tokens, targetOf(cellId, cellType, predicted,
        loaded.answers()));
    Row graph = RowFactory.create(cellId, cellType, predicted, c.target().label(), c.target().token(),
        c.target().minus() < 0 ? null : c.target().minus(), c.graph().targetValue(), tokens.length(),
        c.activeFeatures(), c.rowsComputed(), c.graph().size(), c.pruned().keptNodeCount(),
        c.pruned().keptEdgeCount(), c.scores().replacement(), c.scores().completeness(),
        Double.isFinite(c.scores().errorShare()) ? c.scores().errorShare() : null,
        c.ablation() == null ? null : c.ablation().topDrop(),
        c.ablation() == null ? null : c.ablation().randomDrop(), c.seconds());
    Set<String> withOutgoing = new HashSet<>();
    List<Row> edges = new ArrayList<>();
    for (CellCircuit.Edge e : c.edges()) {
      edges.add(RowFactory.create(cellId, e.source(), e.target(), e.weight()));
      withOutgoing.add(e.source());
    }
    List<Row> nodes = new ArrayList<>();
    for (CellCircuit.Node n : c.nodes()) {
      boolean inCircuit = !n.kind().equals("token") || withOutgoing.contains(n.nodeId());
      nodes.add(RowFactory.create(cellId, cellType, n.nodeId(), n.kind(), n.layer() < 0 ? null : n.layer(),
          n.pos() < 0 ? null : n.pos(), n.feature() < 0 ? null : n.feature(), n.gene(),
          n.geneRank() < 0 ? null : n.geneRank(), n.activation(), n.influence(), n.attribution(), inCircuit));
    }
    return new CellRows(graph, nodes, edges, export ? json(cellId, tokens, c) : null);
  }

  private String json(String cellId, TokenizedPrompt prompt, CellCircuit c) {
    StringWriter w = new StringWriter();
    List<String> tokenGenes = new ArrayList<>();
    List<String> tokens = new ArrayList<>();
    for (int p = 0; p < prompt.length(); p++) {
      tokenGenes.add(prompt.gene(p));
      tokens.add(prompt.prompt().substring(prompt.start(p), prompt.end(p)));
    }
    GraphExport info = GraphExport.of(CircuitsJob.safeName(cellId), spec.modelPath(), prompt.prompt(), tokens,
        tokenGenes, c.target().label(), spec.settings().nodeThreshold(), spec.settings().edgeThreshold(),
        c.scores());
    try {
      CircuitTracerJson.write(w, c.graph(), c.pruned(), info);
    } catch (IOException e) {
      throw new IllegalStateException("cell " + cellId + ": cannot write its graph JSON: " + e.getMessage(), e);
    }
    return w.toString();
  }

  /** The cell's output target: the spec of circuits.target resolved with the cell's own types and logits. */
  private CircuitExtractor.TargetResolver targetOf(String cellId, String cellType, String predicted,
      HuggingFaceTokenizer answers) {
    TargetSpec target = spec.target();
    return logits -> switch (target.mode()) {
      case PREDICTED -> {
        int best = OutputTarget.argmax(logits);
        yield OutputTarget.logit(best, String.format("logit of '%s', the first token of the predicted %s",
            answers.decode(new long[] {best}, false), predicted == null ? "answer" : "\"" + predicted + "\""));
      }
      case ANNOTATED -> {
        if (cellType == null || cellType.isEmpty()) {
          throw new IllegalArgumentException(String.format(
              "cell %s has no annotated cell type; circuits.target = annotated needs one", cellId));
        }
        yield OutputTarget.logit(CircuitsJob.firstToken(cellType, answers), "logit of annotated \"" + cellType + "\"");
      }
      case LABEL -> OutputTarget.logit(CircuitsJob.firstToken(target.label(), answers),
          "logit of \"" + target.label() + "\"");
      case DIFFERENCE -> OutputTarget.difference(CircuitsJob.firstToken(target.label(), answers),
          CircuitsJob.firstToken(target.other(), answers),
          "logit \"" + target.label() + "\" - logit \"" + target.other() + "\"");
    };
  }
}
