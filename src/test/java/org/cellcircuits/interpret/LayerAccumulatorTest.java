package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LayerAccumulatorTest {

  /** One token with its dense feature activations. */
  private record Encoded(HarvestedToken token, float[] z) {}

  private static final String ENDO = "endothelial cell";
  private static final String FIB = "fibroblast";

  // ---- a hand-worked stream of three cells -------------------------------------------------------------------

  /**
   * Three prompts: template tokens at positions 0-2, then the cell sentence, then one more template token in c1 and
   * c2. PECAM1 (c1) and CDH5 (c3) are split into BPE pieces. Six features, each written to hit one labelling rule:
   * f0 fires only on the three pieces of PECAM1, f1 on template tokens, f2 never, f3 on fibroblast tokens spread over
   * two genes and the template, f4 on position 3 (a different gene in each cell), f5 on three genes at three positions.
   */
  private static List<Encoded> handStream() {
    List<Encoded> s = new ArrayList<>();
    // c1, endothelial: 9 tokens
    s.add(tok(HarvestedToken.nonGene("c1", ENDO, 0), 1, 1));
    s.add(tok(HarvestedToken.nonGene("c1", ENDO, 1), 1, 1));
    s.add(tok(HarvestedToken.nonGene("c1", ENDO, 2)));
    s.add(tok(HarvestedToken.gene("c1", ENDO, 3, "VWF", 0), 4, 1));
    s.add(tok(HarvestedToken.gene("c1", ENDO, 4, "PECAM1", 1), 0, 1));
    s.add(tok(HarvestedToken.gene("c1", ENDO, 5, "PECAM1", 1), 0, 2));
    s.add(tok(HarvestedToken.gene("c1", ENDO, 6, "PECAM1", 1), 0, 3));
    s.add(tok(HarvestedToken.gene("c1", ENDO, 7, "KDR", 2), 5, 1));
    s.add(tok(HarvestedToken.nonGene("c1", ENDO, 8)));
    // c2, fibroblast: 6 tokens
    s.add(tok(HarvestedToken.nonGene("c2", FIB, 0), 1, 1));
    s.add(tok(HarvestedToken.nonGene("c2", FIB, 1)));
    s.add(tok(HarvestedToken.nonGene("c2", FIB, 2)));
    s.add(tok(HarvestedToken.gene("c2", FIB, 3, "DCN", 0), 3, 1, 4, 1));
    s.add(tok(HarvestedToken.gene("c2", FIB, 4, "LUM", 1), 3, 1, 5, 1));
    s.add(tok(HarvestedToken.nonGene("c2", FIB, 5), 3, 0.5f));
    // c3, endothelial: 6 tokens
    s.add(tok(HarvestedToken.nonGene("c3", ENDO, 0)));
    s.add(tok(HarvestedToken.nonGene("c3", ENDO, 1)));
    s.add(tok(HarvestedToken.nonGene("c3", ENDO, 2)));
    s.add(tok(HarvestedToken.gene("c3", ENDO, 3, "EMCN", 0), 4, 1, 5, 1));
    s.add(tok(HarvestedToken.gene("c3", ENDO, 4, "CDH5", 1)));
    s.add(tok(HarvestedToken.gene("c3", ENDO, 5, "CDH5", 1)));
    return s;
  }

  /** A token with features {@code pairs[0]} = {@code pairs[1]}, {@code pairs[2]} = {@code pairs[3]}, ... of 6. */
  private static Encoded tok(HarvestedToken t, float... pairs) {
    float[] z = new float[6];
    for (int i = 0; i < pairs.length; i += 2) {
      z[(int) pairs[i]] = pairs[i + 1];
    }
    return new Encoded(t, z);
  }

  private static LayerAccumulator accumulate(List<Encoded> tokens, int features, int topK) {
    LayerAccumulator acc = new LayerAccumulator(features, topK);
    tokens.forEach(e -> acc.add(e.token(), e.z()));
    return acc;
  }

  @Test
  void aFeatureOnThePiecesOfPecam1IsTheGenePecam1() {
    LayerAccumulator layer = accumulate(handStream(), 6, 3);
    assertThat(layer.tokensSeen()).isEqualTo(21);
    assertThat(layer.tokensByCellType()).containsExactly(Map.entry(ENDO, 15L), Map.entry(FIB, 6L));

    FeatureSummary f0 = FeatureSummary.of(0, layer, InterpretParams.defaults());
    assertThat(f0.firingCount()).isEqualTo(3);
    assertThat(f0.firingFrequency()).isCloseTo(3.0 / 21, within(1e-12));
    assertThat(f0.geneScore().topGene()).isEqualTo("PECAM1");
    assertThat(f0.geneScore().topGeneShare()).isEqualTo(1.0);
    assertThat(f0.label().text()).isEqualTo("gene:PECAM1");
    assertThat(f0.examples()).extracting(TopExample::position).containsExactly(6, 5, 4);
    assertThat(f0.examples()).allSatisfy(e -> {
      assertThat(e.gene()).isEqualTo("PECAM1");
      assertThat(e.geneRank()).isEqualTo(1);
      assertThat(e.cellType()).isEqualTo(ENDO);
    });
    // Mean per token of its type: 6 over 15 endothelial tokens, none over 6 fibroblast ones.
    assertThat(f0.cellTypes().meanByType()).containsEntry(ENDO, 6.0 / 15).containsEntry(FIB, 0.0);
    assertThat(f0.cellTypes().specificity()).isEqualTo(1.0);
  }

  @Test
  void eachHandWrittenFeatureGetsTheLabelItsRuleGives() {
    LayerAccumulator layer = accumulate(handStream(), 6, 3);
    List<String> labels = new ArrayList<>();
    for (int f = 0; f < 6; f++) {
      labels.add(FeatureSummary.of(f, layer, InterpretParams.defaults()).label().text());
    }
    assertThat(labels).containsExactly("gene:PECAM1", "prompt-template", "dead", "celltype:fibroblast", "position",
        "unlabelled");

    FeatureSummary f3 = FeatureSummary.of(3, layer, InterpretParams.defaults());
    // DCN 1, LUM 1, template 0.5: top gene by symbol among equals, 1 / 2.5 of the mass, under the 0.5 threshold.
    assertThat(f3.geneScore().topGene()).isEqualTo("DCN");
    assertThat(f3.geneScore().topGeneShare()).isCloseTo(0.4, within(1e-12));
    assertThat(f3.templateShare()).isCloseTo(0.2, within(1e-12));
    FeatureSummary f4 = FeatureSummary.of(4, layer, InterpretParams.defaults());
    assertThat(f4.topPositionShare()).isEqualTo(1.0);
    assertThat(f4.geneScore().topGeneShare()).isCloseTo(1.0 / 3, within(1e-12));
    // f4: endothelial 2 over 15 tokens, fibroblast 1 over 6; tau = 1 - (2/15) / (1/6) = 0.2.
    assertThat(f4.cellTypes().specificity()).isCloseTo(0.2, within(1e-12));
    assertThat(layer.genesSeen()).containsExactlyInAnyOrder("VWF", "PECAM1", "KDR", "DCN", "LUM", "EMCN", "CDH5");
  }

  @Test
  void refusesNegativeActivationsAndTheWrongWidthNamingTheToken() {
    LayerAccumulator layer = new LayerAccumulator(3, 2);
    HarvestedToken t = HarvestedToken.gene("c9", ENDO, 4, "VWF", 0);
    assertThatThrownBy(() -> layer.add(t, new float[] {0, -0.5f, 0}))
        .hasMessage("cell c9 position 4: feature 1 has activation -0.5; interpretation expects z = 0 or a finite "
            + "z > 0");
    assertThatThrownBy(() -> layer.add(t, new float[] {0, Float.NaN, 0})).hasMessageContaining("activation NaN");
    assertThatThrownBy(() -> layer.add(t, new float[2]))
        .hasMessage("cell c9 position 4: 2 feature activations; the dictionary has 3 features");
    assertThatThrownBy(() -> new HarvestedToken("c9", ENDO, 1, "VWF", -1)).hasMessageContaining("rank -1");
  }

  // ---- a random stream, split and merged ---------------------------------------------------------------------

  private static final int FEATURES = 16;
  private static final int TOP_K = 5;

  /** 60 cells of 3 types, 20-token prompts, genes of 1-3 BPE pieces, sparse activations with many ties. */
  private static List<Encoded> randomStream(long seed) {
    Random random = new Random(seed);
    String[] types = {ENDO, FIB, "mast cell"};
    List<Encoded> out = new ArrayList<>();
    for (int c = 0; c < 60; c++) {
      String cell = String.format("cell%03d", c);
      String type = types[c % 3];
      int pos = 0;
      for (; pos < 3; pos++) {
        out.add(new Encoded(HarvestedToken.nonGene(cell, type, pos), randomZ(random)));
      }
      for (int rank = 0; pos < 20; rank++) {
        String gene = "G" + random.nextInt(25);
        int pieces = 1 + gene.hashCode() % 3;
        for (int p = 0; p < pieces && pos < 20; p++, pos++) {
          out.add(new Encoded(HarvestedToken.gene(cell, type, pos, gene, rank), randomZ(random)));
        }
      }
    }
    Collections.shuffle(out, random);
    return out;
  }

  private static float[] randomZ(Random random) {
    float[] z = new float[FEATURES];
    for (int f = 0; f < FEATURES - 1; f++) {  // the last feature stays dead
      if (random.nextInt(4) == 0) {
        // Half from a four-value grid (ties for the top examples), half arbitrary (sums that round differently).
        z[f] = random.nextBoolean() ? 0.25f * (1 + random.nextInt(4)) : random.nextFloat() + 1e-3f;
      }
    }
    return z;
  }

  @Test
  void anySplitMergedInAnyOrderEqualsOnePass() {
    List<Encoded> stream = randomStream(11);
    LayerAccumulator whole = accumulate(stream, FEATURES, TOP_K);
    int[] cuts = {0, 1, 317, 318, 700, 1200};
    for (int order = 0; order < 3; order++) {
      List<LayerAccumulator> parts = new ArrayList<>();
      for (int p = 0; p + 1 < cuts.length; p++) {
        parts.add(accumulate(stream.subList(cuts[p], cuts[p + 1]), FEATURES, TOP_K));
      }
      LayerAccumulator merged = switch (order) {
        case 0 -> parts.stream().reduce(new LayerAccumulator(FEATURES, TOP_K), LayerAccumulator::merge);
        case 1 -> {
          Collections.reverse(parts);
          yield parts.stream().reduce(new LayerAccumulator(FEATURES, TOP_K), LayerAccumulator::merge);
        }
        // a tree, as treeAggregate would combine
        default -> parts.get(0).merge(parts.get(1)).merge(parts.get(2).merge(parts.get(3).merge(parts.get(4))));
      };
      assertSameTotals(merged, whole, "merge order " + order);
    }
  }

  @Test
  void survivesJavaSerialisationAsASparkCombinerWouldShipIt() throws Exception {
    LayerAccumulator whole = accumulate(randomStream(5), FEATURES, TOP_K);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(whole);
    }
    LayerAccumulator back;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      back = (LayerAccumulator) in.readObject();
    }
    assertSameTotals(back, whole, "after serialisation");
  }

  @Test
  void firingCountsAndGeneSharesMatchAPlainLoop() {
    List<Encoded> stream = randomStream(23);
    LayerAccumulator layer = accumulate(stream, FEATURES, TOP_K);
    for (int f = 0; f < FEATURES; f++) {
      long fired = 0;
      double total = 0;
      Map<String, Double> byGene = new HashMap<>();
      for (Encoded e : stream) {
        if (e.z()[f] != 0) {
          fired++;
          total += e.z()[f];
          if (e.token().gene() != null) {
            byGene.merge(e.token().gene(), (double) e.z()[f], Double::sum);
          }
        }
      }
      double top = byGene.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
      FeatureSummary s = FeatureSummary.of(f, layer, InterpretParams.defaults());
      assertThat(s.firingCount()).as("feature %d", f).isEqualTo(fired);
      assertThat(s.firingFrequency()).isCloseTo((double) fired / stream.size(), within(1e-15));
      assertThat(s.geneScore().topGeneShare()).as("feature %d", f)
          .isCloseTo(total == 0 ? 0 : top / total, within(1e-9));
    }
    assertThat(FeatureSummary.of(FEATURES - 1, layer, InterpretParams.defaults()).label().text()).isEqualTo("dead");
  }

  private static void assertSameTotals(LayerAccumulator actual, LayerAccumulator expected, String what) {
    assertThat(actual.tokensSeen()).as(what).isEqualTo(expected.tokensSeen());
    assertThat(actual.tokensByCellType()).as(what).isEqualTo(expected.tokensByCellType());
    assertThat(actual.genesSeen()).as(what).isEqualTo(expected.genesSeen());
    for (int f = 0; f < FEATURES; f++) {
      FeatureAccumulator a = actual.feature(f);
      FeatureAccumulator e = expected.feature(f);
      String feature = what + ", feature " + f;
      assertThat(a.firingCount()).as(feature).isEqualTo(e.firingCount());
      assertThat(a.examples().strongestFirst()).as(feature).isEqualTo(e.examples().strongestFirst());
      assertThat(a.mass().total()).as(feature).isCloseTo(e.mass().total(), within(1e-9));
      assertThat(a.mass().nonGene()).as(feature).isCloseTo(e.mass().nonGene(), within(1e-9));
      assertCloseMaps(a.mass().byGene(), e.mass().byGene(), feature + " by gene");
      assertCloseMaps(a.mass().byPosition(), e.mass().byPosition(), feature + " by position");
      assertCloseMaps(a.mass().byCellType(), e.mass().byCellType(), feature + " by cell type");
      FeatureSummary sa = FeatureSummary.of(f, actual, InterpretParams.defaults());
      FeatureSummary se = FeatureSummary.of(f, expected, InterpretParams.defaults());
      assertThat(sa.label()).as(feature).isEqualTo(se.label());
      assertThat(sa.topGenes()).as(feature).isEqualTo(se.topGenes());
      assertThat(sa.cellTypes().specificity()).as(feature).isCloseTo(se.cellTypes().specificity(), within(1e-9));
    }
  }

  private static <K> void assertCloseMaps(Map<K, Double> actual, Map<K, Double> expected, String what) {
    assertThat(actual.keySet()).as(what).isEqualTo(expected.keySet());
    expected.forEach((k, v) -> assertThat(actual.get(k)).as(what + " " + k).isCloseTo(v, within(1e-9)));
  }
}
