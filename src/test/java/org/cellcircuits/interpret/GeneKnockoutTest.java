package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.cellcircuits.model.CellPrompt;
import org.cellcircuits.sentences.PromptTemplate;
import org.junit.jupiter.api.Test;

/** A knockout is the prompt C2S's template writes for the sentence without the gene, and nothing else changes. */
class GeneKnockoutTest {
  private static final PromptTemplate C2S = PromptTemplate.c2sCellType();

  private static CellPrompt cell(List<String> genes) {
    return new CellPrompt("c1", "fibroblast", genes, C2S.format(5, "Homo sapiens", String.join(" ", genes)));
  }

  @Test
  void removesTheGeneAndMovesTheRestUpOneRank() {
    CellPrompt cell = cell(List.of("DCN", "LUM", "VWF", "COL1A2", "MT-CO1"));
    for (int rank = 0; rank < 5; rank++) {
      String gene = cell.genes().get(rank);
      CellPrompt out = GeneKnockout.without(cell, gene);
      List<String> kept = new java.util.ArrayList<>(cell.genes());
      kept.remove(rank);
      assertThat(out.genes()).as("without %s", gene).isEqualTo(kept);
      // the template's own text, the stated number of genes included, is the original's
      assertThat(out.prompt()).isEqualTo(C2S.format(5, "Homo sapiens", String.join(" ", kept)));
      assertThat(out.cellId()).isEqualTo("c1");
      assertThat(out.cellType()).isEqualTo("fibroblast");
    }
  }

  @Test
  void aGeneWhoseNameIsInsideAnotherIsRemovedWhole() {
    // "CD4" is a prefix of "CD40": the knockout works on the gene list, not on the text
    CellPrompt cell = cell(List.of("CD40", "CD4", "CD4A"));
    assertThat(GeneKnockout.without(cell, "CD4").prompt())
        .isEqualTo(C2S.format(5, "Homo sapiens", "CD40 CD4A"));
  }

  @Test
  void refusesAGeneNotInTheSentenceAndAPromptWithoutIt() {
    CellPrompt cell = cell(List.of("DCN", "LUM"));
    assertThatThrownBy(() -> GeneKnockout.without(cell, "VWF"))
        .hasMessage("cell c1: gene VWF is not in its cell sentence of 2 genes");
    CellPrompt odd = new CellPrompt("c2", null, List.of("DCN", "LUM"), "genes: DCN, LUM");
    assertThatThrownBy(() -> GeneKnockout.without(odd, "DCN"))
        .hasMessageContaining("cell c2: its prompt holds its cell sentence (2 genes joined by spaces) nowhere");
  }
}
