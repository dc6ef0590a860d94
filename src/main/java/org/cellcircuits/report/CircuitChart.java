package org.cellcircuits.report;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * A {@link TypeCircuit} as the data of an ECharts sankey series: ECharts lays the graph out (columns from each node's
 * {@code depth}: genes, then one column per layer that has drawn features, then the logit; order within a column by
 * its own relaxation), this class only says what to draw.
 *
 * <p>Node height is the node's mean influence, the logit's is 1 (the influence every circuit hands out; its own
 * influence is 0 by definition); a floor of {@value #MIN_NODE_SHARE} of the largest keeps weak nodes visible. Link
 * width is |mean weight| times one scale for the whole graph, the largest that keeps every node's inflow and outflow
 * within its height (ECharts would otherwise grow the node to its flow), so heights read as influence and widths as
 * weights. Colour: blue for a positive mean weight (the source pushes the target up), red for negative. Hover text is
 * HTML, escaped here.
 */
public final class CircuitChart {
  /** The smallest node height, as a share of the largest. */
  public static final double MIN_NODE_SHARE = 0.02;
  static final String POSITIVE = "#2b6cb0";
  static final String NEGATIVE = "#c53030";
  static final String GENE_COLOR = "#2f855a";
  static final String FEATURE_COLOR = "#6b46c1";
  static final String LOGIT_COLOR = "#dd6b20";

  private CircuitChart() {}

  /**
   * The chart's data: {@code {title, nodes: [...], links: [...]}}, nodes in the circuit's order.
   *
   * @param features what the interpret stage says about each feature (hover text); missing ones say so
   * @param featureHref the page of a feature, or null when it has none
   */
  public static JsonObject data(TypeCircuit c, Map<FeatureKey, FeatureInfo> features,
      Function<FeatureKey, String> featureHref) {
    Map<String, Double> value = nodeValues(c);
    double scale = linkScale(c, value);
    TreeSet<Integer> layers = new TreeSet<>();
    c.nodes().stream().filter(n -> n.feature() != null).forEach(n -> layers.add(n.feature().layer()));
    JsonArray nodes = new JsonArray();
    for (TypeCircuit.Node n : c.nodes()) {
      JsonObject o = new JsonObject();
      o.addProperty("name", n.key());
      o.addProperty("display", n.display());
      o.addProperty("value", value.get(n.key()));
      o.addProperty("depth", switch (n.kind()) {
        case GENE -> 0;
        case FEATURE -> 1 + layers.headSet(n.feature().layer()).size();
        case LOGIT -> 1 + layers.size();
      });
      JsonObject style = new JsonObject();
      style.addProperty("color", switch (n.kind()) {
        case GENE -> GENE_COLOR;
        case FEATURE -> FEATURE_COLOR;
        case LOGIT -> LOGIT_COLOR;
      });
      o.add("itemStyle", style);
      o.addProperty("tip", nodeTip(c, n, n.feature() == null ? null : features.get(n.feature())));
      String href = n.feature() == null ? null : featureHref.apply(n.feature());
      if (href != null) {
        o.addProperty("href", href);
      }
      nodes.add(o);
    }
    JsonArray links = new JsonArray();
    for (TypeCircuit.Edge e : c.edges()) {
      JsonObject o = new JsonObject();
      o.addProperty("source", e.source());
      o.addProperty("target", e.target());
      o.addProperty("value", Math.abs(e.meanWeight()) * scale);
      o.addProperty("weight", e.meanWeight());
      JsonObject style = new JsonObject();
      style.addProperty("color", e.meanWeight() >= 0 ? POSITIVE : NEGATIVE);
      o.add("lineStyle", style);
      o.addProperty("tip", Html.escape(c.node(e.source()).display()) + " → " + Html.escape(c.node(e.target()).display())
          + "<br>mean edge weight " + signed(e.meanWeight()));
      links.add(o);
    }
    JsonObject out = new JsonObject();
    out.addProperty("title", c.cellType());
    out.add("nodes", nodes);
    out.add("links", links);
    return out;
  }

  /** Per node key, its drawn height before ECharts' own scaling: mean influence (logit 1), floored. */
  static Map<String, Double> nodeValues(TypeCircuit c) {
    double max = 0;
    Map<String, Double> raw = new HashMap<>();
    for (TypeCircuit.Node n : c.nodes()) {
      double v = n.kind() == TypeCircuit.Kind.LOGIT ? 1.0 : Math.max(0, n.meanInfluence());
      raw.put(n.key(), v);
      max = Math.max(max, v);
    }
    double floor = max > 0 ? MIN_NODE_SHARE * max : 1;
    Map<String, Double> out = new HashMap<>();
    raw.forEach((k, v) -> out.put(k, Math.max(v, floor)));
    return out;
  }

  /** The largest factor s such that, for every node, s × (sum of |weight| in or out) <= its value. */
  static double linkScale(TypeCircuit c, Map<String, Double> value) {
    Map<String, Double> in = new HashMap<>();
    Map<String, Double> out = new HashMap<>();
    for (TypeCircuit.Edge e : c.edges()) {
      out.merge(e.source(), Math.abs(e.meanWeight()), Double::sum);
      in.merge(e.target(), Math.abs(e.meanWeight()), Double::sum);
    }
    double scale = Double.POSITIVE_INFINITY;
    for (Map.Entry<String, Double> v : value.entrySet()) {
      double flow = Math.max(in.getOrDefault(v.getKey(), 0.0), out.getOrDefault(v.getKey(), 0.0));
      if (flow > 0) {
        scale = Math.min(scale, v.getValue() / flow);
      }
    }
    return Double.isInfinite(scale) ? 1 : scale;
  }

  private static String nodeTip(TypeCircuit c, TypeCircuit.Node n, FeatureInfo info) {
    StringBuilder s = new StringBuilder("<b>").append(Html.escape(n.display())).append("</b>");
    switch (n.kind()) {
      case GENE -> s.append(" (input gene)");
      case FEATURE -> {
        if (info == null) {
          s.append("<br>not in the interpret stage's features/ table");
        } else {
          s.append("<br>label: ").append(Html.escape(info.label()));
          s.append("<br>top genes: ").append(Html.escape(String.join(", ", head(info.topGenes(), 8))));
        }
      }
      case LOGIT -> s.append(" (the target: the logit the circuits explain)");
    }
    if (n.kind() != TypeCircuit.Kind.LOGIT) {
      s.append("<br>mean influence ").append(Html.number(n.meanInfluence()))
          .append(", mean attribution ").append(signed(n.meanAttribution()));
    }
    s.append("<br>in ").append(n.cellsWith()).append(" of ").append(c.cells()).append(" circuits");
    return s.toString();
  }

  static List<String> head(List<String> list, int n) {
    return list.subList(0, Math.min(n, list.size()));
  }

  static String signed(double v) {
    String s = Html.number(v);
    return v > 0 ? "+" + s : s;
  }

  /** Pixel height of the chart: ~40 px a node in the fullest column (room for its label), at least 480. */
  public static int height(TypeCircuit c) {
    Map<Integer, Integer> perColumn = new HashMap<>();
    for (TypeCircuit.Node n : c.nodes()) {
      int col = switch (n.kind()) {
        case GENE -> -1;
        case FEATURE -> n.feature().layer();
        case LOGIT -> Integer.MAX_VALUE;
      };
      perColumn.merge(col, 1, Integer::sum);
    }
    int most = perColumn.values().stream().mapToInt(Integer::intValue).max().orElse(1);
    return Math.max(480, 40 * most + 60);
  }
}
