package org.cellcircuits.report;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HtmlTest {
  @Test
  void escapesTheFiveSpecialCharacters() {
    assertThat(Html.escape("<a href=\"x\">R&D's</a>")).isEqualTo("&lt;a href=&quot;x&quot;&gt;R&amp;D&#39;s&lt;/a&gt;");
    assertThat(Html.escape(null)).isEmpty();
  }

  @Test
  void slugsAreLowerCaseAsciiWords() {
    assertThat(Html.slug("endothelial cell")).isEqualTo("endothelial-cell");
    assertThat(Html.slug("T cell, CD4+")).isEqualTo("t-cell-cd4");
    assertThat(Html.slug("Müller glia")).isEqualTo("muller-glia");
    assertThat(Html.slug("../../etc/passwd")).isEqualTo("etc-passwd");
    assertThat(Html.slug("")).isEqualTo("unnamed");
    assertThat(Html.slug("x".repeat(200))).hasSize(80);
  }

  @Test
  void numbers() {
    assertThat(Html.number(0.123456)).isEqualTo("0.1235");
    assertThat(Html.number(1234.0)).isEqualTo("1,234");
    assertThat(Html.number(-2.5e-6)).isEqualTo("-2.500e-06");
    assertThat(Html.number(null)).isEqualTo("–");
    assertThat(Html.number(Double.NaN)).isEqualTo("–");
    assertThat(Html.percent(0.385)).isEqualTo("38.5%");
  }
}
