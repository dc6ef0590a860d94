package org.cellcircuits.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The merge of a type's circuits, worked by hand on two cells plus one whose circuit kept only the target. */
class TypeCircuitBuilderTest {

  static CircuitNodeRow token(String cell, int pos, String gene, double influence, double attribution) {
    return new CircuitNodeRow(cell, "T:" + pos, "token", null, null, gene, influence, attribution);
  }

  static CircuitNodeRow feature(String cell, int layer, int pos, int feature, double influence, double attribution) {
    return new CircuitNodeRow(cell, "F:" + layer + ":" + pos + ":" + feature, "feature", layer, feature, null,
        influence, attribution);
  }

  static CircuitNodeRow target(String cell) {
    return new CircuitNodeRow(cell, "TARGET", "target", null, null, null, 0, 0);
  }

  /**
   * c1: PECAM1 as three BPE pieces (T:1 "ĠPE", T:2 "CAM", T:3 "1"), a template token T:0, feature 7 of layer 0 at two
   * positions, an error node. c2: VWF and feature 7 of layer 0 at another position. c3: only the target.
   */
  static TypeCircuitBuilder handWorked() {
    TypeCircuitBuilder b = new TypeCircuitBuilder("endothelial cell", 3);
    for (CircuitNodeRow n : List.of(token("c1", 0, null, 0.3, 0.2), token("c1", 1, "PECAM1", 0.1, 0.4),
        token("c1", 2, "PECAM1", 0.2, 0.1), token("c1", 3, "PECAM1", 0.05, 0.0), feature("c1", 0, 2, 7, 0.4, 0.9),
        feature("c1", 0, 3, 7, 0.1, 0.3), new CircuitNodeRow("c1", "E:0:2", "error", 0, null, null, 0.2, 0.1),
        target("c1"), token("c2", 1, "VWF", 0.3, 0.6), feature("c2", 0, 1, 7, 0.2, 0.5), target("c2"),
        target("c3"))) {
      b.addNode(n);
    }
    for (CircuitEdgeRow e : List.of(new CircuitEdgeRow("c1", "T:1", "F:0:2:7", 0.5),
        new CircuitEdgeRow("c1", "T:2", "F:0:2:7", 0.25), new CircuitEdgeRow("c1", "T:2", "F:0:3:7", -0.1),
        new CircuitEdgeRow("c1", "T:0", "F:0:2:7", 2.0), new CircuitEdgeRow("c1", "E:0:2", "TARGET", 3.0),
        new CircuitEdgeRow("c1", "F:0:2:7", "TARGET", 1.0), new CircuitEdgeRow("c1", "F:0:3:7", "TARGET", 0.5),
        new CircuitEdgeRow("c2", "T:1", "F:0:1:7", 0.8), new CircuitEdgeRow("c2", "F:0:1:7", "TARGET", 0.6))) {
      b.addEdge(e);
    }
    return b;
  }

  @Test
  void bpePiecesAreOneGeneAndPositionsOneFeatureAveragedOverAllTheTypesCells() {
    TypeCircuit c = handWorked().build();

    assertThat(c.nodes()).extracting(TypeCircuit.Node::key)
        .containsExactly("G:PECAM1", "G:VWF", "F:0:7", "LOGIT"); // template token and error node not drawn
    TypeCircuit.Node pecam = c.node("G:PECAM1");
    assertThat(pecam.meanInfluence()).isCloseTo((0.1 + 0.2 + 0.05) / 3, within(1e-12));
    assertThat(pecam.meanAttribution()).isCloseTo((0.4 + 0.1 + 0.0) / 3, within(1e-12));
    assertThat(pecam.cellsWith()).isEqualTo(1);
    TypeCircuit.Node f7 = c.node("F:0:7");
    assertThat(f7.feature()).isEqualTo(new FeatureKey(0, 7));
    assertThat(f7.meanInfluence()).isCloseTo((0.4 + 0.1 + 0.2) / 3, within(1e-12));
    assertThat(f7.cellsWith()).isEqualTo(2);
    assertThat(c.node("LOGIT").cellsWith()).isEqualTo(3);

    assertThat(c.edges()).extracting(TypeCircuit.Edge::source, TypeCircuit.Edge::target)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("F:0:7", "LOGIT"),
            org.assertj.core.groups.Tuple.tuple("G:VWF", "F:0:7"),
            org.assertj.core.groups.Tuple.tuple("G:PECAM1", "F:0:7"));
    assertThat(c.edges().get(0).meanWeight()).isCloseTo((1.0 + 0.5 + 0.6) / 3, within(1e-12));
    assertThat(c.edges().get(1).meanWeight()).isCloseTo(0.8 / 3, within(1e-12));
    // the three pieces' edges into the feature's two positions, summed, including the negative one
    assertThat(c.edges().get(2).meanWeight()).isCloseTo((0.5 + 0.25 - 0.1) / 3, within(1e-12));
  }

  @Test
  void keepsTheTopGenesAndFeaturesByMeanInfluenceAndTheStrongestEdges() {
    TypeCircuitBuilder b = new TypeCircuitBuilder("t", 1);
    b.addNode(token("c", 0, "A", 0.1, 0)).addNode(token("c", 1, "B", 0.3, 0)).addNode(token("c", 2, "C", 0.3, 0));
    b.addNode(feature("c", 0, 0, 5, 0.2, 0)).addNode(feature("c", 1, 0, 2, 0.2, 0))
        .addNode(feature("c", 0, 1, 9, 0.5, 0)).addNode(target("c"));
    b.addEdge(new CircuitEdgeRow("c", "T:0", "F:0:0:5", 9.0)); // A is dropped, so is this edge
    b.addEdge(new CircuitEdgeRow("c", "T:1", "F:0:1:9", -0.7));
    b.addEdge(new CircuitEdgeRow("c", "T:2", "F:0:1:9", 0.2));
    b.addEdge(new CircuitEdgeRow("c", "F:0:1:9", "TARGET", 0.5));
    b.addEdge(new CircuitEdgeRow("c", "F:0:0:5", "TARGET", 0.1));

    TypeCircuit c = b.build(2, 2, 2);

    // genes B and C tie at 0.3 above A; features: L0#9 first, then L0#5 and L1#2 tie at 0.2 and L0#5 wins on key
    assertThat(c.nodes()).extracting(TypeCircuit.Node::key).containsExactly("G:B", "G:C", "F:0:5", "F:0:9", "LOGIT");
    assertThat(c.edges()).extracting(TypeCircuit.Edge::meanWeight).containsExactly(-0.7, 0.5);
    assertThat(b.build(0, 0, 10).nodes()).extracting(TypeCircuit.Node::key).containsExactly("LOGIT");
  }

  @Test
  void badInputNamesTheCellAndNode() {
    TypeCircuitBuilder b = new TypeCircuitBuilder("t", 1).addNode(target("c"));
    assertThatThrownBy(() -> b.addEdge(new CircuitEdgeRow("c", "F:0:1:2", "TARGET", 1)))
        .hasMessageContaining("cell c").hasMessageContaining("F:0:1:2");
    assertThatThrownBy(() -> b.addNode(target("c"))).hasMessageContaining("TARGET of cell c was added twice");
    assertThatThrownBy(() -> b.addNode(new CircuitNodeRow("c", "X:1", "bias", null, null, null, 0, 0)))
        .hasMessageContaining("kind 'bias'");
    assertThatThrownBy(() -> new TypeCircuitBuilder("t", 0)).hasMessageContaining("0 traced cells");
    assertThatThrownBy(() -> b.build(-1, 1, 1)).hasMessageContaining("topGenes -1");
  }
}
