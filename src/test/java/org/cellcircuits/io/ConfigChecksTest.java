package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.cellcircuits.circuits.PruneMethod;
import org.cellcircuits.sentences.TieOrder;
import org.cellcircuits.transcoder.Activation;
import org.junit.jupiter.api.Test;

/** The one format of every range check and enum parse: {@code <name> is invalid: <value>; need <range>}. */
class ConfigChecksTest {
  @Test
  void everyCheckNamesKeyValueAndRangeInOneFormat() {
    assertThatThrownBy(() -> ConfigChecks.atLeast("cellcircuits.harvest.cells-per-task", 0, 1))
        .hasMessage("cellcircuits.harvest.cells-per-task is invalid: 0; need >= 1");
    assertThatThrownBy(() -> ConfigChecks.between("cellcircuits.sentences.seed", -1, 0, 9))
        .hasMessage("cellcircuits.sentences.seed is invalid: -1; need 0 to 9");
    assertThatThrownBy(() -> ConfigChecks.finiteAtLeast("k", Double.POSITIVE_INFINITY, 0))
        .hasMessage("k is invalid: Infinity; need >= 0.0 and finite");
    assertThatThrownBy(() -> ConfigChecks.positiveFinite("lr", Double.NaN))
        .hasMessage("lr is invalid: NaN; need > 0 and finite");
    assertThatThrownBy(() -> ConfigChecks.require(false, "x", 2.5, "in (0, 1]"))
        .hasMessage("x is invalid: 2.5; need in (0, 1]");
    assertThatCode(() -> {
      ConfigChecks.atLeast("a", 1, 1);
      ConfigChecks.between("b", 9, 0, 9);
      ConfigChecks.finiteAtLeast("c", 0, 0);
      ConfigChecks.positiveFinite("d", 1e-9);
    }).doesNotThrowAnyException();
  }

  @Test
  void configEnumsParseTheirConfigNamesAndListThemWhenWrong() {
    assertThat(TieOrder.parse(" Gene-Order ")).isEqualTo(TieOrder.GENE_ORDER);
    assertThat(PruneMethod.parse("greedy")).isEqualTo(PruneMethod.GREEDY);
    assertThat(Activation.parse("BatchTopK")).isEqualTo(Activation.BATCHTOPK);
    assertThatThrownBy(() -> PruneMethod.parse("best"))
        .hasMessage("cellcircuits.circuits.method is invalid: 'best'; need one of influence, greedy");
    assertThatThrownBy(() -> TieOrder.parse(null))
        .hasMessage("cellcircuits.sentences.ties is invalid: 'null'; need one of c2s, gene-order");
  }

  @Test
  void spellingsParseInTheSameFormatListedInTheirOrder() {
    java.util.Map<String, Integer> spellings = new java.util.LinkedHashMap<>();
    spellings.put("one", 1);
    spellings.put("uno", 1);
    spellings.put("two", 2);
    assertThat(ConfigChecks.oneOf("k", " UNO ", spellings)).isEqualTo(1);
    assertThatThrownBy(() -> ConfigChecks.oneOf("k", "three", spellings))
        .hasMessage("k is invalid: 'three'; need one of one, uno, two");
  }
}
