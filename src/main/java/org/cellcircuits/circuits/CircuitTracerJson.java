package org.cellcircuits.circuits;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.io.Writer;
import java.util.List;
import java.util.Locale;

/**
 * Writes one cell's pruned {@link AttributionGraph} as the graph JSON that circuit-tracer's frontend reads (and
 * Neuronpedia imports): what {@code circuit_tracer/utils/create_graph_files.py} builds from the pydantic models of
 * {@code circuit_tracer/frontend/graph_models.py} (circuit-tracer 0.4.1, commit 4bb8c0ea10bde09727e14565ec8469656880da53).
 *
 * <p>Top level {@code {metadata, qParams, nodes, links}}. Nodes, in graph order, as circuit-tracer fills them:
 * <ul>
 *   <li>feature {@code (layer, pos, f)}: {@code node_id "layer_f_pos"}, {@code feature} the Cantor pairing of (layer,
 *       f), {@code layer "layer"}, {@code feature_type "cross layer transcoder"} (circuit-tracer's only feature type,
 *       also for per-layer transcoders), {@code jsNodeId "layer_f-0"}, activation and influence set;
 *   <li>error {@code (layer, pos)}: {@code node_id "layer_-1_pos"} (the id merged upstream in circuit-tracer PR #102
 *       for issue #78: the snapshot's {@code "0_layer_pos"} collides with a layer-0 feature whose index is the error's
 *       layer), {@code feature -1}, {@code "mlp reconstruction error"}, {@code jsNodeId "layer_pos-0"}, influence set;
 *   <li>token at {@code pos}: {@code node_id "E_vocab_pos"}, {@code feature pos}, {@code layer "E"},
 *       {@code "embedding"}, {@code jsNodeId "E_vocab-pos"}, influence set; its clerp carries the gene
 *       ({@code "VWF (rank 3)"}), empty outside genes;
 *   <li>the target, circuit-tracer's one target logit: {@code node_id "(layers+1)_vocab_(positions-1)"},
 *       {@code feature vocab}, {@code layer "layers+1"}, {@code "logit"}, {@code is_target_logit true},
 *       {@code token_prob}, {@code jsNodeId "L_vocab-(positions-1)"}, clerp {@code Output "label" (p=1.000)} (the
 *       frontend parses the {@code (p=...)}); no influence, as circuit-tracer.
 * </ul>
 * {@code influence} is {@link PruneResult#cumulativeInfluence()} (lower = more important, the frontend's pruning
 * slider keeps {@code influence <= threshold}); {@code activation} only for features. Unknown vocabulary ids are
 * written as -1.
 *
 * <p>Links {@code {source, target, weight}} run from the input node to the node it feeds ({@code source} = column,
 * {@code target} = row of {@link AttributionGraph#edge}), one per kept edge whose two ends are kept, in circuit-tracer's
 * order (by target, then source). As {@code create_used_nodes_and_edges}, a kept node is written only when a link
 * touches it, except tokens and the target, always written.
 *
 * <p>Metadata as circuit-tracer's ({@code transcoder_list} empty, {@code schema_version 1}), plus two keys its pydantic
 * model ignores: {@code pruning_settings {node_threshold, edge_threshold}} (as Neuronpedia's graph server adds) and
 * {@code graph_scores {replacement_score, completeness_score, error_share}} when scores are given.
 *
 * <p>Non-finite numbers: circuit-tracer serialises through pydantic, which writes NaN and infinities as {@code null};
 * that is what is done for the optional numbers (influence, activation, thresholds, scores). A non-finite link weight
 * has no such escape (the field is a required float and the frontend sums weights): the export fails naming the edge.
 */
public final class CircuitTracerJson {
  public static final String FEATURE_TYPE = "cross layer transcoder";
  public static final String ERROR_TYPE = "mlp reconstruction error";
  public static final String TOKEN_TYPE = "embedding";
  public static final String LOGIT_TYPE = "logit";
  public static final int SCHEMA_VERSION = 1;

  private static final Gson GSON = new GsonBuilder().serializeNulls().setPrettyPrinting().disableHtmlEscaping().create();

  private CircuitTracerJson() {}

  /** The graph JSON of the kept part of {@code g}. */
  public static JsonObject toJson(AttributionGraph g, PruneResult p, GraphExport e) {
    check(g, p, e);
    int n = g.size();
    boolean[] kept = p.keptNodes();

    JsonArray links = new JsonArray();
    boolean[] linked = new boolean[n];
    for (int t = 0; t < n; t++) {
      boolean[] keptRow = p.keptEdges()[t];
      if (!kept[t] || keptRow == null) {
        continue;
      }
      float[] row = g.row(t);
      for (int s = 0; s < n; s++) {
        if (!keptRow[s] || !kept[s]) {
          continue;
        }
        float w = row[s];
        if (!Float.isFinite(w)) {
          throw new IllegalArgumentException(String.format(
              "edge %s -> %s has weight %s, which JSON cannot carry", g.node(s), g.node(t), w));
        }
        JsonObject link = new JsonObject();
        link.addProperty("source", nodeId(g, e, s));
        link.addProperty("target", nodeId(g, e, t));
        link.add("weight", new JsonPrimitive(w));
        links.add(link);
        linked[s] = true;
        linked[t] = true;
      }
    }

    List<String> geneLabels = e.geneLabels();
    JsonArray nodes = new JsonArray();
    for (int i = 0; i < n; i++) {
      NodeKind kind = g.kind(i);
      if (kept[i] && (linked[i] || kind == NodeKind.TOKEN || kind == NodeKind.TARGET)) {
        nodes.add(node(g, p, e, geneLabels, i));
      }
    }

    JsonObject root = new JsonObject();
    root.add("metadata", metadata(e));
    root.add("qParams", qParams());
    root.add("nodes", nodes);
    root.add("links", links);
    return root;
  }

  /** Writes {@link #toJson} to {@code w}, indented (as circuit-tracer's {@code indent=2}); does not close it. */
  public static void write(Writer w, AttributionGraph g, PruneResult p, GraphExport e) throws IOException {
    GSON.toJson(toJson(g, p, e), w);
    w.flush();
  }

  /** The {@code node_id} the JSON gives node {@code i}. */
  public static String nodeId(AttributionGraph g, GraphExport e, int i) {
    NodeId id = g.node(i);
    return switch (id.kind()) {
      case FEATURE -> id.layer() + "_" + id.feature() + "_" + id.pos();
      case ERROR -> id.layer() + "_-1_" + id.pos();
      case TOKEN -> "E_" + tokenVocab(e, id.pos()) + "_" + id.pos();
      case TARGET -> (g.layers() + 1) + "_" + targetVocab(e) + "_" + (g.positions() - 1);
    };
  }

  private static void check(AttributionGraph g, PruneResult p, GraphExport e) {
    int n = g.size();
    if (e.promptTokens().size() != g.positions()) {
      throw new IllegalArgumentException(String.format("export has %d prompt tokens; the graph has %d positions",
          e.promptTokens().size(), g.positions()));
    }
    // GraphExport checks that token ids and genes have one entry per prompt token.
    if (p.keptNodes().length != n || p.keptEdges().length != n || p.influence().length != n
        || p.cumulativeInfluence().length != n) {
      throw new IllegalArgumentException(String.format(
          "prune result does not fit the graph of %d nodes: %d kept flags, %d edge rows, %d influences, "
              + "%d cumulative influences", n, p.keptNodes().length, p.keptEdges().length, p.influence().length,
          p.cumulativeInfluence().length));
    }
    for (int t = 0; t < n; t++) {
      boolean[] row = p.keptEdges()[t];
      if (row == null) {
        continue;
      }
      if (row.length != n) {
        throw new IllegalArgumentException(String.format("kept-edge row of %s has %d entries; the graph has %d nodes",
            g.node(t), row.length, n));
      }
      if (!g.hasRow(t)) {
        for (int s = 0; s < n; s++) {
          if (row[s]) {
            throw new IllegalArgumentException(String.format(
                "prune result keeps edge %s -> %s, but %s has no inputs in the graph", g.node(s), g.node(t),
                g.node(t)));
          }
        }
      }
    }
    if (!p.keptNodes()[g.targetIndex()]) {
      throw new IllegalArgumentException("prune result drops the target; circuit-tracer always keeps it");
    }
  }

  private static JsonObject node(AttributionGraph g, PruneResult p, GraphExport e, List<String> geneLabels, int i) {
    NodeId id = g.node(i);
    String nodeId = nodeId(g, e, i);
    long feature;
    String layer;
    String type;
    String jsNodeId;
    String clerp = "";
    double tokenProb = 0.0;
    int ctx;
    switch (id.kind()) {
      case FEATURE -> {
        feature = cantor(id.layer(), id.feature());
        layer = Integer.toString(id.layer());
        type = FEATURE_TYPE;
        jsNodeId = id.layer() + "_" + id.feature() + "-0";
        ctx = id.pos();
      }
      case ERROR -> {
        feature = -1;
        layer = Integer.toString(id.layer());
        type = ERROR_TYPE;
        jsNodeId = id.layer() + "_" + id.pos() + "-0";
        ctx = id.pos();
      }
      case TOKEN -> {
        feature = id.pos();
        layer = "E";
        type = TOKEN_TYPE;
        jsNodeId = "E_" + tokenVocab(e, id.pos()) + "-" + id.pos();
        String gene = geneLabels.get(id.pos());
        clerp = gene == null ? "" : gene;
        ctx = id.pos();
      }
      case TARGET -> {
        feature = targetVocab(e);
        layer = Integer.toString(g.layers() + 1);
        type = LOGIT_TYPE;
        ctx = g.positions() - 1;
        jsNodeId = "L_" + targetVocab(e) + "-" + ctx;
        tokenProb = e.targetProb();
        String label = e.targetLabel() != null ? e.targetLabel() : g.targetLabel();
        clerp = String.format(Locale.ROOT, "Output \"%s\" (p=%.3f)", label == null ? "" : label, tokenProb);
      }
      default -> throw new IllegalStateException("unknown node kind " + id.kind());
    }
    JsonObject o = new JsonObject();
    o.addProperty("node_id", nodeId);
    o.addProperty("feature", feature);
    o.addProperty("layer", layer);
    o.addProperty("ctx_idx", ctx);
    o.addProperty("feature_type", type);
    o.addProperty("token_prob", tokenProb);
    o.addProperty("is_target_logit", id.kind() == NodeKind.TARGET);
    o.addProperty("run_idx", 0);
    o.addProperty("reverse_ctx_idx", 0);
    o.addProperty("jsNodeId", jsNodeId);
    o.addProperty("clerp", clerp);
    o.add("influence", id.kind() == NodeKind.TARGET ? JsonNull.INSTANCE : finiteOrNull(p.cumulativeInfluence()[i]));
    o.add("activation", id.kind() == NodeKind.FEATURE ? finiteOrNull(g.activation(i)) : JsonNull.INSTANCE);
    return o;
  }

  private static JsonObject metadata(GraphExport e) {
    JsonObject m = new JsonObject();
    m.addProperty("slug", e.slug());
    m.addProperty("scan", e.scan());
    m.add("transcoder_list", new JsonArray());
    JsonArray tokens = new JsonArray();
    e.promptTokens().forEach(tokens::add);
    m.add("prompt_tokens", tokens);
    m.addProperty("prompt", e.prompt());
    m.add("node_threshold", finiteOrNull(e.nodeThreshold()));
    m.addProperty("schema_version", SCHEMA_VERSION);
    JsonObject pruning = new JsonObject();
    pruning.add("node_threshold", finiteOrNull(e.nodeThreshold()));
    pruning.add("edge_threshold", finiteOrNull(e.edgeThreshold()));
    m.add("pruning_settings", pruning);
    if (e.scores() != null) {
      JsonObject s = new JsonObject();
      s.add("replacement_score", finiteOrNull(e.scores().replacement()));
      s.add("completeness_score", finiteOrNull(e.scores().completeness()));
      s.add("error_share", finiteOrNull(e.scores().errorShare()));
      m.add("graph_scores", s);
    }
    return m;
  }

  private static JsonObject qParams() {
    // as build_model: nothing pinned, no supernodes
    JsonObject q = new JsonObject();
    q.add("pinnedIds", new JsonArray());
    q.add("supernodes", new JsonArray());
    q.addProperty("linkType", "both");
    q.addProperty("clickedId", "");
    q.addProperty("sg_pos", "");
    return q;
  }

  /** circuit-tracer's feature number: the Cantor pairing of (layer, feature index). */
  static long cantor(long x, long y) {
    return (x + y) * (x + y + 1) / 2 + y;
  }

  private static int tokenVocab(GraphExport e, int pos) {
    return e.tokenIds() == null ? -1 : e.tokenIds().get(pos);
  }

  private static int targetVocab(GraphExport e) {
    return e.targetTokenId() == null ? -1 : e.targetTokenId();
  }

  private static com.google.gson.JsonElement finiteOrNull(double v) {
    return Double.isFinite(v) ? new JsonPrimitive(v) : JsonNull.INSTANCE;
  }
}
