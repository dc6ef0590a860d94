package org.cellcircuits.report;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Merges the per-cell circuits of one cell type ({@code circuits/nodes} and {@code circuits/edges} rows) into one
 * {@link TypeCircuit}:
 * <ul>
 *   <li>token nodes are grouped by gene: the BPE pieces of one symbol, at any position, are one gene node; tokens
 *       outside every gene (template, punctuation) and error nodes are left out of the drawing;
 *   <li>feature nodes are grouped by (layer, feature), summed over positions; the target is the logit node;
 *   <li>per cell, influence, attribution and edge weights are summed within each merged node or node pair; the sums
 *       are then averaged over the type's traced cells;
 *   <li>the drawing keeps the {@code topGenes} genes and {@code topFeatures} features of highest mean influence (ties
 *       by name, then layer and index), the logit, and the {@code maxEdges} edges of largest |mean weight| among them.
 * </ul>
 * Add every node of a cell before its edges: an edge's ends are looked up among the cell's nodes.
 */
public final class TypeCircuitBuilder {
  /** Genes drawn per cell type by default. */
  public static final int DEFAULT_TOP_GENES = 12;
  /** Features drawn per cell type by default. */
  public static final int DEFAULT_TOP_FEATURES = 24;
  /** Edges drawn per cell type by default. */
  public static final int DEFAULT_MAX_EDGES = 150;

  private static final String LOGIT = "LOGIT";
  private static final String LEFT_OUT = "";

  private final String cellType;
  private final int cells;
  /** cell → node id → merged key, or {@link #LEFT_OUT}. */
  private final Map<String, Map<String, String>> keys = new HashMap<>();
  private final Map<String, Acc> nodes = new LinkedHashMap<>();
  private final Map<String, Double> edgeSums = new LinkedHashMap<>();

  private static final class Acc {
    final TypeCircuit.Kind kind;
    final String gene;
    final FeatureKey feature;
    double influence;
    double attribution;
    final Set<String> cells = new HashSet<>();

    Acc(TypeCircuit.Kind kind, String gene, FeatureKey feature) {
      this.kind = kind;
      this.gene = gene;
      this.feature = feature;
    }
  }

  /**
   * @param cellType the type
   * @param cells its traced cells (> 0), the denominator of every mean
   */
  public TypeCircuitBuilder(String cellType, int cells) {
    if (cells <= 0) {
      throw new IllegalArgumentException(String.format("cell type %s has %d traced cells; need at least 1",
          cellType, cells));
    }
    this.cellType = cellType;
    this.cells = cells;
  }

  /** Adds one kept node of one of the type's cells. */
  public TypeCircuitBuilder addNode(CircuitNodeRow n) {
    String key;
    Acc acc;
    switch (n.kind()) {
      case "token" -> {
        key = n.gene() == null ? LEFT_OUT : "G:" + n.gene();
        acc = n.gene() == null ? null : nodes.computeIfAbsent(key, k -> new Acc(TypeCircuit.Kind.GENE, n.gene(), null));
      }
      case "feature" -> {
        FeatureKey f = new FeatureKey(n.layer(), n.feature());
        key = "F:" + f.layer() + ":" + f.feature();
        acc = nodes.computeIfAbsent(key, k -> new Acc(TypeCircuit.Kind.FEATURE, null, f));
      }
      case "target" -> {
        key = LOGIT;
        acc = nodes.computeIfAbsent(key, k -> new Acc(TypeCircuit.Kind.LOGIT, null, null));
      }
      case "error" -> {
        key = LEFT_OUT;
        acc = null;
      }
      default -> throw new IllegalArgumentException(String.format(
          "node %s of cell %s has kind '%s'; expected token, feature, error or target", n.nodeId(), n.cellId(),
          n.kind()));
    }
    String previous = keys.computeIfAbsent(n.cellId(), c -> new HashMap<>()).put(n.nodeId(), key);
    if (previous != null) {
      throw new IllegalArgumentException(String.format("node %s of cell %s was added twice", n.nodeId(), n.cellId()));
    }
    if (acc != null) {
      acc.influence += n.influence();
      acc.attribution += n.attribution();
      acc.cells.add(n.cellId());
    }
    return this;
  }

  /** Adds one kept edge of one of the type's cells; both ends must have been added with {@link #addNode}. */
  public TypeCircuitBuilder addEdge(CircuitEdgeRow e) {
    String source = keyOf(e.cellId(), e.source());
    String target = keyOf(e.cellId(), e.target());
    if (source.equals(LEFT_OUT) || target.equals(LEFT_OUT) || source.equals(target)) {
      return this;
    }
    edgeSums.merge(source + "\u0000" + target, e.weight(), Double::sum);
    return this;
  }

  private String keyOf(String cellId, String nodeId) {
    Map<String, String> cell = keys.get(cellId);
    String key = cell == null ? null : cell.get(nodeId);
    if (key == null) {
      throw new IllegalArgumentException(String.format(
          "edge of cell %s (type %s) names node %s, which is not among the cell's nodes", cellId, cellType, nodeId));
    }
    return key;
  }

  /** The merged graph with the default sizes. */
  public TypeCircuit build() {
    return build(DEFAULT_TOP_GENES, DEFAULT_TOP_FEATURES, DEFAULT_MAX_EDGES);
  }

  /**
   * The merged graph.
   *
   * @param topGenes genes kept (>= 0)
   * @param topFeatures features kept (>= 0)
   * @param maxEdges edges kept among the kept nodes (>= 0)
   */
  public TypeCircuit build(int topGenes, int topFeatures, int maxEdges) {
    if (topGenes < 0 || topFeatures < 0 || maxEdges < 0) {
      throw new IllegalArgumentException(String.format(
          "report graph sizes are invalid: topGenes %d, topFeatures %d, maxEdges %d; each must be >= 0", topGenes,
          topFeatures, maxEdges));
    }
    List<TypeCircuit.Node> all = new ArrayList<>();
    for (Map.Entry<String, Acc> e : nodes.entrySet()) {
      Acc a = e.getValue();
      all.add(new TypeCircuit.Node(e.getKey(), a.kind, a.gene, a.feature, a.influence / cells, a.attribution / cells,
          a.cells.size()));
    }
    Comparator<TypeCircuit.Node> byInfluence = Comparator.comparingDouble(TypeCircuit.Node::meanInfluence).reversed();
    List<TypeCircuit.Node> genes = all.stream().filter(n -> n.kind() == TypeCircuit.Kind.GENE)
        .sorted(byInfluence.thenComparing(TypeCircuit.Node::gene)).limit(topGenes)
        .sorted(Comparator.comparing(TypeCircuit.Node::gene)).toList();
    List<TypeCircuit.Node> features = all.stream().filter(n -> n.kind() == TypeCircuit.Kind.FEATURE)
        .sorted(byInfluence.thenComparing(TypeCircuit.Node::feature)).limit(topFeatures)
        .sorted(Comparator.comparing(TypeCircuit.Node::feature)).toList();
    List<TypeCircuit.Node> kept = new ArrayList<>(genes);
    kept.addAll(features);
    all.stream().filter(n -> n.kind() == TypeCircuit.Kind.LOGIT).forEach(kept::add);
    Set<String> keptKeys = new HashSet<>();
    kept.forEach(n -> keptKeys.add(n.key()));

    List<TypeCircuit.Edge> edges = new ArrayList<>();
    for (Map.Entry<String, Double> e : edgeSums.entrySet()) {
      String[] ends = e.getKey().split("\u0000", 2);
      if (keptKeys.contains(ends[0]) && keptKeys.contains(ends[1])) {
        edges.add(new TypeCircuit.Edge(ends[0], ends[1], e.getValue() / cells));
      }
    }
    edges.sort(Comparator.comparingDouble((TypeCircuit.Edge e) -> Math.abs(e.meanWeight())).reversed()
        .thenComparing(TypeCircuit.Edge::source).thenComparing(TypeCircuit.Edge::target));
    return new TypeCircuit(cellType, cells, kept, edges.subList(0, Math.min(maxEdges, edges.size())));
  }
}
