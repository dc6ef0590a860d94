package org.cellcircuits.harvest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.cellcircuits.model.PromptTokenizer;
import org.cellcircuits.model.TokenizedPrompt;
import org.cellcircuits.runtime.ModelFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token selection on real tokenizations by the demo tokenizer, and on one that adds a BOS token. */
class TokenPolicyTest {
  @TempDir Path tmp;

  private static final String PROMPT = "The following is a list of 4 gene names ordered by descending expression level "
      + "in a Homo sapiens cell.\nCell sentence: VWF PECAM1 CDH5 KDR.\nThe cell type corresponding to these genes is:";
  private static final List<String> GENES = List.of("VWF", "PECAM1", "CDH5", "KDR");

  @Test
  void allGenesAndFractionOnTheDemoTokenizer() throws Exception {
    try (PromptTokenizer tok = PromptTokenizer.load(HarvestFixtures.DEMO_TOKENIZER)) {
      TokenizedPrompt p = tok.encode(PROMPT, GENES);
      Set<Long> special = ModelFolder.specialTokenIds(HarvestFixtures.DEMO_TOKENIZER);
      assertThat(special).containsExactlyInAnyOrder(0L, 1L);

      int[] all = TokenPolicy.all().select("c1", p, special);
      assertThat(all).hasSize(p.length()).isSorted();
      assertThat(all[0]).isZero();
      // A whitespace-only token (the lone 'Ġ' before the digit in "of 4") has an empty span once offsets are trimmed;
      // it is still a prompt token, and is stored.
      int[] blank = java.util.stream.IntStream.range(0, p.length()).filter(i -> p.start(i) == p.end(i)).toArray();
      assertThat(blank).hasSize(1);
      assertThat(p.token(blank[0])).isEqualTo("Ġ");
      assertThat(all).contains(blank);

      int[] genes = TokenPolicy.genes().select("c1", p, special);
      int spanned = p.genes().stream().mapToInt(g -> g.tokenCount()).sum();
      assertThat(genes).hasSize(spanned);
      for (int i : genes) {
        assertThat(GENES).contains(p.gene(i));
      }
      // Hand-checked: every gene's tokens, in sentence order.
      assertThat(java.util.Arrays.stream(genes).mapToObj(p::gene).distinct().toList()).containsExactlyElementsOf(GENES);

      TokenPolicy f = TokenPolicy.fraction(0.5, 9);
      int[] a = f.select("cell-a", p, special);
      assertThat(f.select("cell-a", p, special)).as("same cell, same draw").containsExactly(a);
      assertThat(f.select("cell-b", p, special)).as("another cell, another draw").isNotEqualTo(a);
      assertThat(TokenPolicy.fraction(0.5, 10).select("cell-a", p, special)).as("another seed").isNotEqualTo(a);
      assertThat(TokenPolicy.fraction(1.0, 9).select("cell-a", p, special)).containsExactly(all);
      // The draw for token i does not depend on the kept ones: a smaller fraction keeps a subset.
      assertThat(all).contains(TokenPolicy.fraction(0.2, 9).select("cell-a", p, special));
      int[] small = TokenPolicy.fraction(0.2, 9).select("cell-a", p, special);
      assertThat(a).contains(small);
    }
  }

  @Test
  void aBosTokenAddedByThePostProcessorIsNeverStored() throws Exception {
    JsonObject json = JsonParser.parseString(Files.readString(HarvestFixtures.DEMO_TOKENIZER)).getAsJsonObject();
    json.add("post_processor", JsonParser.parseString("""
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]}}}
        """));
    Path file = tmp.resolve("tokenizer.json");
    Files.writeString(file, json.toString());
    try (PromptTokenizer tok = PromptTokenizer.load(file);
        PromptTokenizer plain = PromptTokenizer.load(HarvestFixtures.DEMO_TOKENIZER)) {
      TokenizedPrompt p = tok.encode(PROMPT, GENES);
      assertThat(p.id(0)).as("BOS added").isZero();
      assertThat(p.length()).isEqualTo(plain.encode(PROMPT, GENES).length() + 1);
      Set<Long> special = ModelFolder.specialTokenIds(file);
      int[] all = TokenPolicy.all().select("c", p, special);
      assertThat(all).hasSize(p.length() - 1).doesNotContain(0);
      assertThat(TokenPolicy.fraction(1.0, 1).select("c", p, special)).containsExactly(all);
    }
  }

  @Test
  void badPoliciesAreRefused() {
    assertThatThrownBy(() -> TokenPolicy.fraction(0, 1)).hasMessage(
        "cellcircuits.harvest.token-fraction is invalid: 0.0; need in (0, 1] for the fraction policy");
    assertThatThrownBy(() -> TokenPolicy.fraction(1.5, 1))
        .hasMessageContaining("cellcircuits.harvest.token-fraction is invalid: 1.5");
    assertThatThrownBy(() -> TokenPolicy.parseMode("some")).hasMessage(
        "cellcircuits.harvest.tokens is invalid: 'some'; need one of all, genes, fraction");
    assertThat(TokenPolicy.parseMode(" Genes ")).isEqualTo(TokenPolicy.Mode.GENES);
  }
}
