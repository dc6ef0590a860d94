package org.cellcircuits.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pages for hand-made data: which files, escaping, "not run", links that resolve, nothing from the network. */
class HtmlReportTest {
  private static final Pattern LINK = Pattern.compile("(?:src|href)=\"([^\"]*)\"");

  @TempDir Path dir;

  @Test
  void writesOnePagePerCellTypeAndPerFeatureAndTheAssets() throws IOException {
    ReportData data = ReportFixtures.data(null, ReportFixtures.validation());
    List<String> files = HtmlReport.write(data, dir);

    assertThat(files).containsExactlyInAnyOrder("index.html", "assets/echarts.min.js", "assets/echarts-LICENSE.txt",
        "assets/circuit.js", "assets/report.css", "celltypes/endothelial-cell.html", "celltypes/b-evil-b-co.html",
        "features/L0-F7.html", "features/L1-F3.html");
    assertThat(Files.size(dir.resolve("assets/echarts.min.js"))).isGreaterThan(500_000);
    assertThat(HtmlReport.cellTypePage(data, "endothelial cell")).isEqualTo("celltypes/endothelial-cell.html");
    assertThat(ReportData.featuresShown(data.cellTypes(), data.mostSpecific()))
        .containsExactly(new FeatureKey(0, 7), new FeatureKey(1, 3), new FeatureKey(2, 11));
  }

  @Test
  void everyLinkIsRelativeAndResolvesToAWrittenFile() throws IOException {
    HtmlReport.write(ReportFixtures.data(null, null), dir);
    List<Path> pages;
    try (Stream<Path> s = Files.walk(dir)) {
      pages = s.filter(p -> p.toString().endsWith(".html")).toList();
    }
    int links = 0;
    for (Path page : pages) {
      String html = Files.readString(page);
      Matcher m = LINK.matcher(html);
      while (m.find()) {
        String target = m.group(1);
        assertThat(target).as("link in %s", page).doesNotContain("://").doesNotStartWith("//").doesNotStartWith("/");
        assertThat(page.getParent().resolve(target).normalize()).as("link %s in %s", target, page).isRegularFile();
        links++;
      }
    }
    assertThat(links).isGreaterThan(10);
  }

  @Test
  void textFromTheDataIsEscapedEverywhere() throws IOException {
    HtmlReport.write(ReportFixtures.data(null, null), dir);
    String index = Files.readString(dir.resolve("index.html"));
    String evil = Files.readString(dir.resolve("celltypes/b-evil-b-co.html"));
    String feature = Files.readString(dir.resolve("features/L1-F3.html"));

    assertThat(index).contains("&lt;b&gt;evil&lt;/b&gt; &amp; &quot;co&quot;").doesNotContain("<b>evil")
        .contains("0.50  38.5% &lt;all&gt;").contains("a note &amp; more");
    assertThat(feature).contains("celltype:&lt;script&gt;alert(1)&lt;/script&gt;").doesNotContain("<script>alert");
    // the chart's JSON sits in a <script>: Gson writes < and > as \u003c, \u003e, so nothing closes the element early
    String json = evil.substring(evil.indexOf("id=\"circuit-data\">"), evil.indexOf("</script>"));
    assertThat(json).doesNotContain("<img").contains("\\u003cimg");
    assertThat(evil.split("<script", -1)).hasSize(4); // the JSON, the bundle, circuit.js
  }

  @Test
  void missingStagesAreSaidNotRunAndValidationIsFilteredByType() throws IOException {
    HtmlReport.write(ReportFixtures.data(null, ReportFixtures.validation()), dir);
    String index = Files.readString(dir.resolve("index.html"));
    String endo = Files.readString(dir.resolve("celltypes/endothelial-cell.html"));
    assertThat(index).contains("evaluate stage not run").contains("<td>0.81</td>").contains("<td>fibroblast</td>");
    assertThat(endo).contains("<td>0.81</td>").doesNotContain("<td>fibroblast</td>")
        .contains("VWF").contains("PECAM1");

    HtmlReport.write(ReportFixtures.data(ReportFixtures.validation(), null), dir.resolve("b"));
    assertThat(Files.readString(dir.resolve("b/index.html"))).doesNotContain("evaluate stage not run")
        .contains("validation not run");
    assertThat(Files.readString(dir.resolve("b/celltypes/endothelial-cell.html"))).contains("validation not run");
  }

  @Test
  void cellTypesWhoseNamesShareASlugGetDistinctPages() throws IOException {
    ReportData base = ReportFixtures.data(null, null);
    CellTypeReport a = base.cellTypes().get(0);
    CellTypeReport b = new CellTypeReport("Endothelial  cell", 1, null, null,
        new TypeCircuit("Endothelial  cell", 1, List.of(), List.of()), List.of(), List.of());
    ReportData data = new ReportData(base.runRoot(), null, null, null, null, null, List.of(a, b), base.mostSpecific(),
        base.features(), List.of());
    assertThat(HtmlReport.write(data, dir)).contains("celltypes/endothelial-cell.html",
        "celltypes/endothelial-cell-2.html");
    assertThat(Files.readString(dir.resolve("celltypes/endothelial-cell-2.html"))).contains("no nodes");
  }
}
