package org.cellcircuits.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CircuitChartTest {

  @Test
  void nodeHeightsAreInfluenceAndNoFlowOutgrowsItsNode() {
    TypeCircuit c = TypeCircuitBuilderTest.handWorked().build();
    JsonObject d = CircuitChart.data(c, Map.of(), k -> null);

    Map<String, Double> value = new HashMap<>();
    Map<String, Integer> depth = new HashMap<>();
    for (JsonElement e : d.getAsJsonArray("nodes")) {
      JsonObject n = e.getAsJsonObject();
      value.put(n.get("name").getAsString(), n.get("value").getAsDouble());
      depth.put(n.get("name").getAsString(), n.get("depth").getAsInt());
    }
    assertThat(value.get("LOGIT")).isEqualTo(1.0);
    assertThat(value.get("G:PECAM1")).isCloseTo(0.35 / 3, within(1e-12));
    assertThat(value.get("F:0:7")).isCloseTo(0.7 / 3, within(1e-12));
    assertThat(depth).containsEntry("G:VWF", 0).containsEntry("F:0:7", 1).containsEntry("LOGIT", 2);

    Map<String, Double> in = new HashMap<>();
    Map<String, Double> out = new HashMap<>();
    for (JsonElement e : d.getAsJsonArray("links")) {
      JsonObject l = e.getAsJsonObject();
      double v = l.get("value").getAsDouble();
      assertThat(v).isCloseTo(Math.abs(l.get("weight").getAsDouble()) * CircuitChart.linkScale(c,
          CircuitChart.nodeValues(c)), within(1e-12));
      assertThat(l.getAsJsonObject("lineStyle").get("color").getAsString())
          .isEqualTo(l.get("weight").getAsDouble() >= 0 ? CircuitChart.POSITIVE : CircuitChart.NEGATIVE);
      out.merge(l.get("source").getAsString(), v, Double::sum);
      in.merge(l.get("target").getAsString(), v, Double::sum);
    }
    boolean tight = false;
    for (Map.Entry<String, Double> v : value.entrySet()) {
      double flow = Math.max(in.getOrDefault(v.getKey(), 0.0), out.getOrDefault(v.getKey(), 0.0));
      assertThat(flow).as("flow through %s", v.getKey()).isLessThanOrEqualTo(v.getValue() * (1 + 1e-12));
      tight |= Math.abs(flow - v.getValue()) < 1e-12;
    }
    assertThat(tight).as("the scale is the largest that fits: one node is filled").isTrue();
  }

  @Test
  void featureHoverNamesLabelAndTopGenesEscapedAndLinksItsPage() {
    TypeCircuit c = TypeCircuitBuilderTest.handWorked().build();
    FeatureInfo info = ReportFixtures.feature(0, 7, "gene:<VWF>", java.util.List.of("VWF", "PECAM1"), "endo");
    JsonObject d = CircuitChart.data(c, Map.of(info.key(), info), k -> "../features/" + k.slug() + ".html");
    JsonObject f = null;
    for (JsonElement e : d.getAsJsonArray("nodes")) {
      if (e.getAsJsonObject().get("name").getAsString().equals("F:0:7")) {
        f = e.getAsJsonObject();
      }
    }
    assertThat(f).isNotNull();
    assertThat(f.get("tip").getAsString()).contains("label: gene:&lt;VWF&gt;").contains("top genes: VWF, PECAM1")
        .contains("in 2 of 3 circuits");
    assertThat(f.get("href").getAsString()).isEqualTo("../features/L0-F7.html");
    assertThat(f.get("display").getAsString()).isEqualTo("L0 #7");
  }
}
