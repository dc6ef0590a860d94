package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.File;
import org.junit.jupiter.api.Test;

/** conf/reference.conf and the code agree on every default; bad values name the key and the value. */
class SentencesParamsTest {
  private static Config section() {
    return ConfigFactory.parseFile(new File("conf/reference.conf")).resolve().getConfig("cellcircuits.sentences");
  }

  @Test
  void referenceConfHoldsTheCodesDefaults() {
    Config c = section();
    assertThat(SentencesParams.fromConfig(c)).isEqualTo(SentencesParams.defaults());
    assertThat(c.getString("template")).isEqualTo(PromptTemplate.C2S_CELL_TYPE_0);
    // Every key the section documents is read, and nothing else is in it.
    assertThat(c.root().keySet()).containsExactlyInAnyOrder("top-k", "ties", "seed", "upper-case",
        "drop-explicit-zeros", "min-genes-per-cell", "min-cells-per-gene", "exclude-ribo-mito", "template",
        "organism", "atlas", "rows-per-partition", "rows-per-read", "max-cells");
  }

  @Test
  void overridesAreRead() {
    Config c = section().withValue("ties", ConfigValueFactory.fromAnyRef("gene-order"))
        .withValue("top-k", ConfigValueFactory.fromAnyRef(50))
        .withValue("atlas.donor-column", ConfigValueFactory.fromAnyRef(null));
    SentencesParams p = SentencesParams.fromConfig(c);
    assertThat(p.ties()).isEqualTo(TieOrder.GENE_ORDER);
    assertThat(p.topK()).isEqualTo(50);
    assertThat(p.donorColumn()).isEmpty();
  }

  @Test
  void badValuesNameTheKeyAndTheValue() {
    assertThatThrownBy(() -> SentencesParams.builder().topK(0).build())
        .hasMessage("cellcircuits.sentences.top-k is invalid: 0; need >= 1");
    assertThatThrownBy(() -> SentencesParams.builder().minCellsPerGene(-3).build())
        .hasMessage("cellcircuits.sentences.min-cells-per-gene is invalid: -3; need >= 0");
    assertThatThrownBy(() -> SentencesParams.builder().seed(1L << 32).build())
        .hasMessageContaining("sentences.seed is invalid: 4294967296");
    assertThatThrownBy(() -> SentencesParams.builder().organism(" ").build())
        .hasMessageContaining("sentences.organism is invalid");
    assertThatThrownBy(() -> SentencesParams.fromConfig(section().withValue("ties",
        ConfigValueFactory.fromAnyRef("random"))))
        .hasMessage("cellcircuits.sentences.ties is invalid: 'random'; need one of c2s, gene-order");
  }
}
