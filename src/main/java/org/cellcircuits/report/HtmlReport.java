package org.cellcircuits.report;

import com.google.gson.Gson;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes the report's static pages into a local folder:
 *
 * <pre>
 *   index.html                  evaluation, interpretability, validation, links to every page
 *   celltypes/&lt;slug&gt;.html       one per cell type: its merged circuit drawn, its ranked genes and features
 *   features/L&lt;l&gt;-F&lt;f&gt;.html      one per feature in {@link ReportData#features}
 *   assets/echarts.min.js       Apache ECharts (from the WebJar), loaded by the cell-type pages only
 *   assets/circuit.js, report.css, echarts-LICENSE.txt
 * </pre>
 *
 * Pages reference each other and the assets by relative links, so the folder opens from disk (file://) with no
 * network; the ~1 MB bundle is written once rather than inlined into every page. All text from the data is escaped.
 */
public final class HtmlReport {
  public static final String INDEX = "index.html";
  static final String ASSETS = "assets";
  static final String CELL_TYPES = "celltypes";
  static final String FEATURES = "features";
  private static final Gson GSON = new Gson(); // escapes <, >, & and = in strings, so its JSON is safe in a <script>

  private final ReportData data;
  private final Map<String, String> typeSlugs = new LinkedHashMap<>();
  /** feature → the cell types whose drawing or summary list has it. */
  private final Map<FeatureKey, List<String>> featureTypes = new TreeMap<>();

  private HtmlReport(ReportData data) {
    this.data = data;
    Set<String> used = new HashSet<>();
    for (CellTypeReport t : data.cellTypes()) {
      String base = Html.slug(t.cellType());
      String slug = base;
      for (int i = 2; !used.add(slug); i++) {
        slug = base + "-" + i;
      }
      typeSlugs.put(t.cellType(), slug);
      Set<FeatureKey> seen = new HashSet<>();
      t.circuit().nodes().stream().filter(n -> n.feature() != null).forEach(n -> seen.add(n.feature()));
      t.topFeatures().forEach(r -> seen.add(r.feature()));
      seen.forEach(k -> featureTypes.computeIfAbsent(k, x -> new ArrayList<>()).add(t.cellType()));
    }
  }

  /**
   * Writes every page and asset under {@code dir} (created if missing).
   *
   * @return the files written, relative to {@code dir}
   */
  public static List<String> write(ReportData data, Path dir) throws IOException {
    return new HtmlReport(data).writeAll(dir);
  }

  /** The file name of a cell type's page, relative to the report folder, e.g. {@code celltypes/endothelial-cell.html}. */
  public static String cellTypePage(ReportData data, String cellType) {
    String slug = new HtmlReport(data).typeSlugs.get(cellType);
    if (slug == null) {
      throw new IllegalArgumentException("the report has no cell type " + cellType);
    }
    return CELL_TYPES + "/" + slug + ".html";
  }

  private List<String> writeAll(Path dir) throws IOException {
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put(ASSETS + "/echarts.min.js", EChartsBundle.script());
    files.put(ASSETS + "/echarts-LICENSE.txt", EChartsBundle.license());
    files.put(ASSETS + "/circuit.js", resource("circuit.js"));
    files.put(ASSETS + "/report.css", resource("report.css"));
    files.put(INDEX, utf8(index()));
    for (CellTypeReport t : data.cellTypes()) {
      files.put(CELL_TYPES + "/" + typeSlugs.get(t.cellType()) + ".html", utf8(cellTypePage(t)));
    }
    for (FeatureInfo f : data.features().values()) {
      files.put(FEATURES + "/" + f.key().slug() + ".html", utf8(featurePage(f)));
    }
    for (Map.Entry<String, byte[]> e : files.entrySet()) {
      Path file = dir.resolve(e.getKey());
      Files.createDirectories(file.getParent());
      Files.write(file, e.getValue());
    }
    return List.copyOf(files.keySet());
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = HtmlReport.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IOException("classpath resource org/cellcircuits/report/" + name + " is missing");
      }
      return in.readAllBytes();
    }
  }

  // ---------------------------------------------------------------------------------------------------- index page

  private String index() {
    StringBuilder s = head("cellcircuits report", "");
    s.append("<h1>cellcircuits report</h1>\n<p class=\"muted\">run root ").append(Html.escape(data.runRoot()));
    if (data.attempt() != null) {
      s.append(" · interpret attempt ").append(Html.escape(data.attempt()));
    }
    s.append("</p>\n");
    for (String note : data.notes()) {
      s.append("<p class=\"notrun\">").append(Html.escape(note)).append("</p>\n");
    }

    s.append("<h2>Evaluation: the model with transcoders in place of its MLPs</h2>\n");
    table(s, data.evaluationSummary(), "evaluate stage not run (not committed under this run root)");
    s.append("<h3>Per layer</h3>\n");
    table(s, data.evaluationLayers(), "evaluate stage not run");

    s.append("<h2>Interpretability of the features</h2>\n");
    if (data.interpretability() == null) {
      notRun(s, "interpretability table not written");
    } else {
      s.append("<pre>").append(Html.escape(data.interpretability())).append("</pre>\n");
    }

    s.append("<h2>Validation: knocking out what the circuits rank highest</h2>\n");
    table(s, data.validationSummary(), "validation not run");

    s.append("<h2>Cell types (").append(data.cellTypes().size()).append(")</h2>\n");
    if (data.cellTypes().isEmpty()) {
      notRun(s, "no circuits: the circuits stage has not committed under this run root");
    } else {
      s.append("<table><tr><th>cell type</th><th>cells</th><th>replacement</th><th>completeness</th>"
          + "<th>top input genes</th></tr>\n");
      for (CellTypeReport t : data.cellTypes()) {
        s.append("<tr><td><a href=\"").append(Html.escape(CELL_TYPES + "/" + typeSlugs.get(t.cellType()) + ".html"))
            .append("\">").append(Html.escape(t.cellType())).append("</a></td>");
        num(s, (double) t.cells());
        num(s, t.meanReplacement());
        num(s, t.meanCompleteness());
        List<String> genes = t.topGenes().stream().limit(8).map(CellTypeReport.Ranked::gene).toList();
        s.append("<td>").append(Html.escape(String.join(" ", genes))).append("</td></tr>\n");
      }
      s.append("</table>\n");
    }

    if (!data.mostSpecific().isEmpty()) {
      s.append("<h2>Features most specific to each cell type</h2>\n<p class=\"muted\">highest tau among the features "
          + "whose mean activation is highest in that type</p>\n<table><tr><th>cell type</th><th>features</th></tr>\n");
      for (Map.Entry<String, List<FeatureKey>> e : data.mostSpecific().entrySet()) {
        s.append("<tr><td>").append(Html.escape(e.getKey())).append("</td><td>");
        for (FeatureKey k : e.getValue()) {
          featureLink(s, k, "").append(' ');
        }
        s.append("</td></tr>\n");
      }
      s.append("</table>\n");
    }

    s.append("<h2>Feature pages (").append(data.features().size()).append(")</h2>\n<p class=\"muted\">every feature "
        + "drawn in a cell type's circuit, listed in a type's circuit summary, or most specific to a type</p>\n");
    s.append("<table><tr><th>feature</th><th>label</th><th>top genes</th><th>firing</th><th>tau</th>"
        + "<th>top cell type</th><th>in circuits of</th></tr>\n");
    for (FeatureInfo f : data.features().values()) {
      s.append("<tr><td>");
      featureLink(s, f.key(), "");
      s.append("</td><td>").append(Html.escape(f.label())).append("</td><td>")
          .append(Html.escape(String.join(" ", CircuitChart.head(f.topGenes(), 5)))).append("</td>");
      s.append("<td class=\"num\">").append(Html.percent(f.firingFrequency())).append("</td>");
      num(s, f.cellTypeTau());
      s.append("<td>").append(Html.escape(f.topCellType())).append("</td><td>")
          .append(featureTypes.getOrDefault(f.key(), List.of()).size()).append(" types</td></tr>\n");
    }
    s.append("</table>\n");
    return tail(s);
  }

  // ------------------------------------------------------------------------------------------------ cell type page

  private String cellTypePage(CellTypeReport t) {
    StringBuilder s = head(t.cellType() + " · circuit", "../");
    nav(s);
    TypeCircuit c = t.circuit();
    s.append("<h1>").append(Html.escape(t.cellType())).append("</h1>\n<p>").append(t.cells())
        .append(" traced cells · mean replacement score ").append(Html.number(t.meanReplacement()))
        .append(" · mean completeness ").append(Html.number(t.meanCompleteness())).append("</p>\n");

    s.append("<h2>Circuit</h2>\n<p class=\"muted\">The type's circuits merged: input genes (all BPE pieces of a symbol "
        + "as one gene) → transcoder features by layer (summed over positions) → the logit. Node height: mean "
        + "influence over the type's cells (the logit at 1); link width: |mean edge weight|. Hover for a feature's "
        + "label and top genes; click a feature to open its page. Error nodes and tokens outside genes are not drawn."
        + "</p>\n<p class=\"legend\"><span><i class=\"swatch\" style=\"background:").append(CircuitChart.GENE_COLOR)
        .append("\"></i>gene</span><span><i class=\"swatch\" style=\"background:").append(CircuitChart.FEATURE_COLOR)
        .append("\"></i>feature</span><span><i class=\"swatch\" style=\"background:").append(CircuitChart.POSITIVE)
        .append("\"></i>positive edge</span><span><i class=\"swatch\" style=\"background:")
        .append(CircuitChart.NEGATIVE).append("\"></i>negative edge</span></p>\n");
    if (c.nodes().isEmpty()) {
      notRun(s, "no nodes in this type's circuits");
    } else {
      s.append("<div id=\"circuit\" style=\"height:").append(CircuitChart.height(c)).append("px\"></div>\n");
      s.append("<script type=\"application/json\" id=\"circuit-data\">")
          .append(GSON.toJson(CircuitChart.data(c, data.features(), this::featureHrefFromSubpage)))
          .append("</script>\n<script src=\"../").append(ASSETS).append("/echarts.min.js\"></script>\n<script src=\"../")
          .append(ASSETS).append("/circuit.js\"></script>\n");
    }

    s.append("<h2>Drawn nodes</h2>\n<table><tr><th>node</th><th>kind</th><th>label</th><th>mean influence</th>"
        + "<th>mean attribution</th><th>circuits</th></tr>\n");
    for (TypeCircuit.Node n : c.nodes()) {
      s.append("<tr><td>");
      if (n.feature() != null) {
        featureLink(s, n.feature(), "../");
      } else {
        s.append(Html.escape(n.display()));
      }
      FeatureInfo info = n.feature() == null ? null : data.features().get(n.feature());
      s.append("</td><td>").append(n.kind().name().toLowerCase(java.util.Locale.ROOT)).append("</td><td>")
          .append(Html.escape(info == null ? "" : info.label())).append("</td>");
      num(s, n.kind() == TypeCircuit.Kind.LOGIT ? null : n.meanInfluence()); // the target's own influence is 0
      num(s, n.meanAttribution());
      s.append("<td class=\"num\">").append(n.cellsWith()).append(" / ").append(c.cells()).append("</td></tr>\n");
    }
    s.append("</table>\n");

    s.append("<h2>Input genes ranked by total attribution (circuits/summary)</h2>\n");
    rankedTable(s, t.topGenes(), 20);
    s.append("<h2>Features ranked by how many circuits keep them (circuits/summary)</h2>\n");
    rankedTable(s, t.topFeatures(), 20);

    s.append("<h2>Validation</h2>\n");
    if (data.validationSummary() == null) {
      notRun(s, "validation not run");
    } else {
      table(s, data.validationSummary().filter("cell_type", t.cellType()), "validation not run");
    }
    return tail(s);
  }

  private void rankedTable(StringBuilder s, List<CellTypeReport.Ranked> rows, int limit) {
    if (rows.isEmpty()) {
      s.append("<p class=\"muted\">none</p>\n");
      return;
    }
    s.append("<table><tr><th>rank</th><th>").append(rows.get(0).gene() != null ? "gene" : "feature")
        .append("</th><th>label</th><th>circuits</th><th>share</th><th>mean attribution</th><th>mean influence</th></tr>\n");
    for (CellTypeReport.Ranked r : rows.subList(0, Math.min(limit, rows.size()))) {
      s.append("<tr><td class=\"num\">").append(r.rank()).append("</td><td>");
      FeatureInfo info = null;
      if (r.gene() != null) {
        s.append(Html.escape(r.gene()));
      } else {
        featureLink(s, r.feature(), "../");
        info = data.features().get(r.feature());
      }
      s.append("</td><td>").append(Html.escape(info == null ? "" : info.label())).append("</td>");
      num(s, (double) r.cells());
      s.append("<td class=\"num\">").append(Html.percent(r.share())).append("</td>");
      num(s, r.meanAttribution());
      num(s, r.meanInfluence());
      s.append("</tr>\n");
    }
    s.append("</table>\n");
  }

  // -------------------------------------------------------------------------------------------------- feature page

  private String featurePage(FeatureInfo f) {
    StringBuilder s = head(f.key() + " · " + f.label(), "../");
    nav(s);
    s.append("<h1>").append(Html.escape(f.key().toString())).append(" — ").append(Html.escape(f.label()))
        .append("</h1>\n<table>");
    row(s, "kind", f.kind());
    row(s, "label rule", f.labelKind());
    row(s, "firing frequency", Html.percent(f.firingFrequency()) + " of stored tokens");
    row(s, "top gene", f.topGene() == null ? "–"
        : f.topGene() + " (" + Html.percent(f.topGeneShare()) + " of its activation mass)");
    row(s, "top cell type", f.topCellType() == null ? "–"
        : f.topCellType() + " (tau " + Html.number(f.cellTypeTau()) + ")");
    row(s, "enriched in", f.enrichedSet() == null ? "–"
        : f.enrichedSet() + " (q " + Html.number(f.enrichmentQ()) + ")");
    s.append("</table>\n");

    s.append("<h2>Top genes</h2>\n<p>").append(Html.escape(String.join(", ", f.topGenes()))).append("</p>\n");

    s.append("<h2>In circuits of</h2>\n");
    List<String> types = featureTypes.getOrDefault(f.key(), List.of());
    if (types.isEmpty()) {
      s.append("<p class=\"muted\">no cell type's drawn circuit or summary list</p>\n");
    } else {
      s.append("<p>");
      for (String type : types) {
        s.append("<a href=\"../").append(CELL_TYPES).append('/').append(Html.escape(typeSlugs.get(type)))
            .append(".html\">").append(Html.escape(type)).append("</a> ");
      }
      s.append("</p>\n");
    }

    s.append("<h2>Mean activation by cell type</h2>\n");
    List<Map.Entry<String, Double>> means = new ArrayList<>(f.meanByCellType().entrySet());
    means.sort(Map.Entry.<String, Double>comparingByValue(Comparator.reverseOrder()).thenComparing(Map.Entry.comparingByKey()));
    double max = means.stream().mapToDouble(Map.Entry::getValue).max().orElse(0);
    s.append("<table><tr><th>cell type</th><th>mean activation</th><th></th></tr>\n");
    for (Map.Entry<String, Double> e : means) {
      s.append("<tr><td>").append(Html.escape(e.getKey())).append("</td>");
      num(s, e.getValue());
      int width = max > 0 ? (int) Math.round(200 * Math.max(0, e.getValue()) / max) : 0;
      s.append("<td><span class=\"bar\" style=\"width:").append(width).append("px\"></span></td></tr>\n");
    }
    s.append("</table>\n");

    s.append("<h2>Strongest examples</h2>\n<table><tr><th>cell</th><th>cell type</th><th>position</th><th>gene</th>"
        + "<th>gene rank</th><th>activation</th></tr>\n");
    for (FeatureInfo.Example e : f.examples()) {
      s.append("<tr><td>").append(Html.escape(e.cellId())).append("</td><td>").append(Html.escape(e.cellType()))
          .append("</td>");
      num(s, (double) e.pos());
      s.append("<td>").append(e.gene() == null ? "<span class=\"muted\">(not a gene)</span>" : Html.escape(e.gene()))
          .append("</td>");
      num(s, e.geneRank() == null ? null : (double) e.geneRank());
      num(s, e.activation());
      s.append("</tr>\n");
    }
    s.append("</table>\n");
    return tail(s);
  }

  // ------------------------------------------------------------------------------------------------------ helpers

  private String featureHrefFromSubpage(FeatureKey k) {
    return data.features().containsKey(k) ? "../" + FEATURES + "/" + k.slug() + ".html" : null;
  }

  /** A link to the feature's page, or its name alone when it has none. */
  private StringBuilder featureLink(StringBuilder s, FeatureKey k, String prefix) {
    if (data.features().containsKey(k)) {
      return s.append("<a href=\"").append(prefix).append(FEATURES).append('/').append(k.slug()).append(".html\">")
          .append(Html.escape(k.toString())).append("</a>");
    }
    return s.append(Html.escape(k.toString()));
  }

  private static StringBuilder head(String title, String prefix) {
    StringBuilder s = new StringBuilder(16_384);
    s.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>").append(Html.escape(title))
        .append("</title>\n<link rel=\"stylesheet\" href=\"").append(prefix).append(ASSETS)
        .append("/report.css\">\n</head><body>\n");
    return s;
  }

  private static void nav(StringBuilder s) {
    s.append("<nav><a href=\"../").append(INDEX).append("\">report index</a></nav>\n");
  }

  private static String tail(StringBuilder s) {
    return s.append("</body></html>\n").toString();
  }

  private static void notRun(StringBuilder s, String why) {
    s.append("<p class=\"notrun\">").append(Html.escape(why)).append("</p>\n");
  }

  private static void row(StringBuilder s, String name, String value) {
    s.append("<tr><th>").append(Html.escape(name)).append("</th><td>").append(Html.escape(value)).append("</td></tr>");
  }

  private static void num(StringBuilder s, Double v) {
    s.append("<td class=\"num\">").append(Html.number(v)).append("</td>");
  }

  private static void table(StringBuilder s, ReportTable t, String ifNull) {
    if (t == null) {
      notRun(s, ifNull);
      return;
    }
    if (t.rows().isEmpty()) {
      s.append("<p class=\"muted\">no rows</p>\n");
      return;
    }
    s.append("<table><tr>");
    for (String c : t.columns()) {
      s.append("<th>").append(Html.escape(c)).append("</th>");
    }
    s.append("</tr>\n");
    for (List<String> row : t.rows()) {
      s.append("<tr>");
      for (String cell : row) {
        s.append("<td>").append(Html.escape(cell)).append("</td>");
      }
      s.append("</tr>\n");
    }
    s.append("</table>\n");
  }
}
