package org.cellcircuits.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hand-made report in headless Chromium: pages render with no errors, the circuit is drawn, hover text is
 * escaped; and the driver does see errors when a page has them. Screenshots under target/report-screenshots/.
 * Fails (does not skip) without a browser: .ci/run installs Debian's chromium.
 */
class ReportBrowserTest {
  static final Path SCREENSHOTS = Path.of("target", "report-screenshots");
  private static HeadlessChromium chromium;

  @TempDir static Path dir;

  @BeforeAll
  static void start() throws Exception {
    chromium = HeadlessChromium.start();
    HtmlReport.write(ReportFixtures.data(ReportFixtures.validation(), ReportFixtures.validation()), dir);
  }

  @AfterAll
  static void stop() throws Exception {
    if (chromium != null) {
      chromium.close();
    }
  }

  @Test
  void cellTypePageDrawsItsCircuitWithoutErrors() throws Exception {
    HeadlessChromium.PageResult page = chromium.open(dir.resolve("celltypes/endothelial-cell.html"),
        SCREENSHOTS.resolve("handmade-endothelial-cell.png"));
    assertThat(page.errors()).isEmpty();
    assertThat(page.text()).contains("endothelial cell").contains("VWF").contains("PECAM1");
    assertThat(page.canvases()).isGreaterThanOrEqualTo(1);
    assertThat(chromium.evaluate("document.getElementById('circuit').getAttribute('data-rendered')").getAsString())
        .isEqualTo("4");
    // ECharts laid out the four drawn nodes in three columns (genes, layer 0, logit)
    assertThat(chromium.evaluate("echarts.getInstanceByDom(document.getElementById('circuit')).getModel()"
        + ".getSeriesByIndex(0).getData().count()").getAsInt()).isEqualTo(4);
    assertThat(Files.size(SCREENSHOTS.resolve("handmade-endothelial-cell.png"))).isGreaterThan(5_000);
  }

  @Test
  void escapedNamesStayTextAndOtherPagesRenderToo() throws Exception {
    HeadlessChromium.PageResult evil = chromium.open(dir.resolve("celltypes/b-evil-b-co.html"), null);
    assertThat(evil.errors()).isEmpty();
    assertThat(evil.text()).contains("<b>evil</b> & \"co\"").contains("<img src=x onerror=alert(1)>");
    assertThat(chromium.evaluate("document.querySelectorAll('img').length").getAsInt()).isZero();

    HeadlessChromium.PageResult index = chromium.open(dir.resolve("index.html"),
        SCREENSHOTS.resolve("handmade-index.png"));
    assertThat(index.errors()).isEmpty();
    assertThat(index.text()).contains("Cell types (2)").contains("Feature pages (2)");
    HeadlessChromium.PageResult feature = chromium.open(dir.resolve("features/L1-F3.html"), null);
    assertThat(feature.errors()).isEmpty();
    assertThat(feature.text()).contains("celltype:<script>alert(1)</script>");
  }

  @Test
  void theDriverReportsExceptionsConsoleErrorsAndMissingFiles() throws Exception {
    Path bad = dir.resolve("bad.html");
    Files.writeString(bad, "<!DOCTYPE html><html><body><p>bad</p><script src=\"nowhere.js\"></script>"
        + "<script>console.error('boom'); null.x;</script></body></html>");
    HeadlessChromium.PageResult page = chromium.open(bad, null);
    assertThat(page.errors()).hasSize(3).anyMatch(e -> e.contains("nowhere.js")).anyMatch(e -> e.contains("boom"))
        .anyMatch(e -> e.startsWith("exception:"));
    assertThat(page.text()).isEqualTo("bad");
  }
}
