package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Checks PromptTokenizer against ids and offsets that HuggingFace's own tokenizers library (npm bindings) produced
 * for the same prompts ({@code src/test/resources/tokenizer/make_tokenizer.mjs}), and checks the token-to-gene map by
 * decoding each gene's tokens back to its symbol.
 */
class PromptTokenizerTest {

  private static Path dir;
  private static List<Case> cases;
  private static final Map<String, PromptTokenizer> tokenizers = new HashMap<>();

  record Case(String tokenizer, String name, String prompt, List<String> genes, long[] ids, int[][] offsets) {}

  @BeforeAll
  static void load() throws IOException, URISyntaxException {
    dir = Paths.get(PromptTokenizerTest.class.getResource("/tokenizer/tokenizer.json").toURI()).getParent();
    cases = new ArrayList<>();
    try (Reader r = Files.newBufferedReader(dir.resolve("expected.json"), StandardCharsets.UTF_8)) {
      JsonObject root = JsonParser.parseReader(r).getAsJsonObject();
      for (JsonElement el : root.getAsJsonArray("cases")) {
        JsonObject c = el.getAsJsonObject();
        List<String> genes = new ArrayList<>();
        c.getAsJsonArray("genes").forEach(g -> genes.add(g.getAsString()));
        JsonArray idArr = c.getAsJsonArray("ids");
        long[] ids = new long[idArr.size()];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = idArr.get(i).getAsLong();
        }
        JsonArray offArr = c.getAsJsonArray("offsets");
        int[][] offsets = new int[offArr.size()][];
        for (int i = 0; i < offsets.length; i++) {
          JsonArray o = offArr.get(i).getAsJsonArray();
          offsets[i] = new int[] {o.get(0).getAsInt(), o.get(1).getAsInt()};
        }
        cases.add(new Case(c.get("tokenizer").getAsString(), c.get("name").getAsString(),
            c.get("prompt").getAsString(), genes, ids, offsets));
      }
    }
    for (String file : List.of("tokenizer.json", "tokenizer_untrimmed.json", "tokenizer_nosplit.json")) {
      tokenizers.put(file, PromptTokenizer.load(dir.resolve(file)));
    }
  }

  @AfterAll
  static void close() {
    tokenizers.values().forEach(PromptTokenizer::close);
  }

  private static Case find(String tokenizer, String name) {
    return cases.stream().filter(c -> c.tokenizer.equals(tokenizer) && c.name.equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("expected.json has no case " + tokenizer + "/" + name));
  }

  /** JS offsets are in code points; the prompts here are ASCII except non_ascii, so map code point -> UTF-16. */
  private static int[][] toUtf16(String s, int[][] cpOffsets) {
    int[][] out = new int[cpOffsets.length][];
    for (int i = 0; i < cpOffsets.length; i++) {
      out[i] = new int[] {s.offsetByCodePoints(0, cpOffsets[i][0]), s.offsetByCodePoints(0, cpOffsets[i][1])};
    }
    return out;
  }

  @Test
  void idsAndOffsetsMatchTheHuggingFaceLibrary() {
    assertThat(cases).hasSizeGreaterThanOrEqualTo(15);
    for (Case c : cases) {
      TokenizedPrompt tp = tokenizers.get(c.tokenizer).encode(c.prompt, c.genes);
      assertThat(tp.ids()).as("ids of %s/%s", c.tokenizer, c.name).containsExactly(c.ids);
      assertThat(tp.offsets()).as("offsets of %s/%s", c.tokenizer, c.name)
          .isDeepEqualTo(toUtf16(c.prompt, c.offsets));
    }
  }

  @Test
  void offsetsCountCodePointsInBothLibraries() throws IOException {
    // The npm library reports the emoji (one code point, two UTF-16 units, four bytes) as one position; DJL's
    // bindings report the same numbers, so both count code points, and PromptTokenizer's UTF-16 conversion is needed.
    Case c = find("tokenizer.json", "non_ascii");
    try (HuggingFaceTokenizer raw = HuggingFaceTokenizer.builder().optTokenizerPath(dir.resolve("tokenizer.json"))
        .optTruncation(false).optPadding(false).build()) {
      Encoding enc = raw.encode(c.prompt);
      CharSpan[] spans = enc.getCharTokenSpans();
      int[][] djl = new int[spans.length][];
      for (int i = 0; i < spans.length; i++) {
        djl[i] = new int[] {spans[i].getStart(), spans[i].getEnd()};
      }
      assertThat(djl).isDeepEqualTo(c.offsets);
    }
    TokenizedPrompt tp = tokenizers.get("tokenizer.json").encode(c.prompt, c.genes);
    int heart = c.prompt.indexOf("🫀");
    assertThat(heart).isPositive();
    int lastCell = -1;
    int heartPieces = 0;
    for (int i = 0; i < tp.length(); i++) {
      if (tp.start(i) == heart && tp.end(i) > heart) {
        // Each of the emoji's four UTF-8 bytes is a byte-level token; all four point at the whole character.
        assertThat(c.prompt.substring(tp.start(i), tp.end(i))).isEqualTo("🫀");
        heartPieces++;
      }
      if (tp.token(i).equals("Ġcell")) {
        lastCell = i;
      }
    }
    assertThat(heartPieces).isEqualTo(4);
    assertThat(lastCell).isPositive();
    assertThat(c.prompt.substring(tp.start(lastCell), tp.end(lastCell))).isEqualTo("cell");
    assertThat(tp.start(lastCell)).isEqualTo(c.offsets[lastCell][0] + 1); // the emoji is 2 UTF-16 units
  }

  @Test
  void everyGeneDecodesBackToItsSymbolWithItsRank() {
    PromptTokenizer tok = tokenizers.get("tokenizer.json");
    for (Case c : cases) {
      if (!c.tokenizer.equals("tokenizer.json")) {
        continue;
      }
      TokenizedPrompt tp = tok.encode(c.prompt, c.genes);
      assertThat(tp.genes()).hasSize(c.genes.size());
      for (int r = 0; r < c.genes.size(); r++) {
        GeneSpan span = tp.geneSpan(r);
        assertThat(span.rank()).isEqualTo(r);
        assertThat(span.gene()).isEqualTo(c.genes.get(r));
        assertThat(span.exclusive()).as("%s rank %d", c.name, r).isTrue();
        long[] ids = Arrays.copyOfRange(tp.ids(), span.firstToken(), span.lastToken() + 1);
        // Byte-level tokens carry the space before the gene ("ĠVWF" decodes to " VWF"), except where the
        // vocabulary has no merge of the space with the gene's first piece and the space stays a token of its own.
        String decoded = tok.decode(ids);
        assertThat(decoded).as("%s rank %d", c.name, r).isIn(" " + c.genes.get(r), c.genes.get(r));
        assertThat(c.prompt.substring(tp.start(span.firstToken()), tp.end(span.lastToken())))
            .isEqualTo(c.genes.get(r));
        for (int i = span.firstToken(); i <= span.lastToken(); i++) {
          assertThat(tp.rank(i)).isEqualTo(r);
          assertThat(tp.gene(i)).isEqualTo(c.genes.get(r));
        }
      }
      // Every other token is template text, punctuation or whitespace.
      int inGenes = tp.genes().stream().mapToInt(GeneSpan::tokenCount).sum();
      long withRank = Arrays.stream(tp.ranks()).filter(x -> x >= 0).count();
      assertThat(withRank).as(c.name).isEqualTo(inGenes);
      for (int i = 0; i < tp.length(); i++) {
        if (tp.end(i) <= tp.sentenceStart() || tp.start(i) >= tp.sentenceEnd()) {
          assertThat(tp.rank(i)).as("%s token %d %s", c.name, i, tp.token(i)).isEqualTo(-1);
          assertThat(tp.gene(i)).isNull();
        }
      }
    }
  }

  @Test
  void handWorkedPromptMapsTokensToGenes() {
    String prompt = "Cell sentence: VWF PECAM1 ZNF385D.\nThe cell type corresponding to these genes is:";
    TokenizedPrompt tp = tokenizers.get("tokenizer.json").encode(prompt);
    // Pieces read off the fixture vocabulary (expected.json, case 'short'): VWF is one token, PECAM1 two,
    // ZNF385D (never in the training corpus) a lone space and one token per character.
    List<String> tokens = Arrays.asList(tp.tokens()).subList(0, 15);
    assertThat(tokens).containsExactly("Cell", "Ġsentence", ":", "ĠVWF", "ĠPECAM", "1",
        "Ġ", "Z", "N", "F", "3", "8", "5", "D", ".");
    assertThat(Arrays.copyOf(tp.ranks(), 15)).containsExactly(-1, -1, -1, 0, 1, 1, -1, 2, 2, 2, 2, 2, 2, 2, -1);
    assertThat(tp.geneSpan(0)).isEqualTo(new GeneSpan("VWF", 0, 15, 18, 3, 3, true));
    assertThat(tp.geneSpan(1)).isEqualTo(new GeneSpan("PECAM1", 1, 19, 25, 4, 5, true));
    assertThat(tp.geneSpan(2)).isEqualTo(new GeneSpan("ZNF385D", 2, 26, 33, 7, 13, true));
    // Pythia trims the leading space from offsets: 'ĠVWF' starts at V.
    assertThat(tp.start(3)).isEqualTo(15);
  }

  @Test
  void multiTokenGenesAreCommonAsWithPythia() {
    TokenizedPrompt tp = tokenizers.get("tokenizer.json").encode(find("tokenizer.json", "medium").prompt);
    long multi = tp.genes().stream().filter(s -> s.tokenCount() >= 2).count();
    assertThat(multi).isGreaterThanOrEqualTo(tp.genes().size() / 2);
    assertThat(tp.genes().stream().mapToInt(GeneSpan::tokenCount).max().orElse(0)).isGreaterThanOrEqualTo(4);
  }

  @Test
  void untrimmedOffsetsIncludeTheSpaceButGiveTheSameGenes() {
    for (String name : List.of("short", "medium", "mito_first", "with_answer")) {
      Case trimmed = find("tokenizer.json", name);
      Case untrimmed = find("tokenizer_untrimmed.json", name);
      TokenizedPrompt a = tokenizers.get("tokenizer.json").encode(trimmed.prompt, trimmed.genes);
      TokenizedPrompt b = tokenizers.get("tokenizer_untrimmed.json").encode(untrimmed.prompt, untrimmed.genes);
      assertThat(b.ids()).isEqualTo(a.ids());
      assertThat(b.ranks()).as(name).isEqualTo(a.ranks());
      assertThat(b.genes()).as(name).isEqualTo(a.genes());
      boolean sawStraddle = false;
      for (int i = 0; i < b.length(); i++) {
        if (b.token(i).startsWith("Ġ") && b.rank(i) >= 0 && b.token(i).length() > 1) {
          // The token straddles the space before its gene and still belongs to that gene.
          assertThat(b.prompt().charAt(b.start(i))).isEqualTo(' ');
          assertThat(b.start(i) + 1).isEqualTo(b.geneSpan(b.rank(i)).charStart());
          sawStraddle = true;
        }
      }
      assertThat(sawStraddle).as(name).isTrue();
    }
  }

  @Test
  void aTokenAcrossTwoGenesBelongsToTheGeneWhereItStarts() {
    // Without a space-splitting pre-tokenizer, BPE learned '1ĠMT-ND': the last character of F13A1 and the start of
    // MT-ND4. It belongs to F13A1; MT-ND4's span still lists it, so that span is not exclusive.
    Case c = find("tokenizer_nosplit.json", "medium");
    TokenizedPrompt tp = tokenizers.get("tokenizer_nosplit.json").encode(c.prompt, c.genes);
    int f13 = c.genes.indexOf("F13A1");
    int mt = c.genes.indexOf("MT-ND4");
    assertThat(mt).isEqualTo(f13 + 1);
    int shared = Arrays.asList(tp.tokens()).indexOf("1ĠMT-ND");
    assertThat(shared).isNotNegative();
    assertThat(tp.rank(shared)).isEqualTo(f13);
    assertThat(tp.geneSpan(f13).lastToken()).isEqualTo(shared);
    assertThat(tp.geneSpan(mt).firstToken()).isEqualTo(shared);
    assertThat(tp.geneSpan(mt).exclusive()).isFalse();
    assertThat(tp.rank(shared + 1)).isEqualTo(mt);

    // A token that starts in the template and swallows whole genes belongs to no gene; those genes keep a span.
    Case m = find("tokenizer_nosplit.json", "mito_first");
    TokenizedPrompt tm = tokenizers.get("tokenizer_nosplit.json").encode(m.prompt, m.genes);
    int big = Arrays.asList(tm.tokens()).indexOf("CellĠsentence:ĠMT-CO1ĠMT-CO3ĠMT-ATP");
    assertThat(big).isNotNegative();
    assertThat(tm.rank(big)).isEqualTo(-1);
    for (int r = 0; r < 3; r++) {
      assertThat(tm.geneSpan(r).firstToken()).isEqualTo(big);
      assertThat(tm.geneSpan(r).exclusive()).isFalse();
    }
    assertThat(tm.geneSpan(2).lastToken()).isEqualTo(big + 1); // the '6' of MT-ATP6
    assertThat(tm.rank(big + 1)).isEqualTo(2);
  }

  @Test
  void longPromptIsNotTruncated() {
    Case c = find("tokenizer.json", "long");
    assertThat(c.ids.length).isGreaterThan(2000);
    TokenizedPrompt tp = tokenizers.get("tokenizer.json").encode(c.prompt, c.genes);
    assertThat(tp.length()).isEqualTo(c.ids.length);
    GeneSpan last = tp.geneSpan(c.genes.size() - 1);
    assertThat(last.lastToken()).isGreaterThan(2000);
    assertThat(tokenizers.get("tokenizer.json").ids(c.prompt)).containsExactly(c.ids);
  }

  @Test
  void parsedSentenceEqualsTheGivenGenes() {
    for (Case c : cases) {
      if (c.name.equals("non_ascii")) {
        continue;
      }
      PromptTokenizer tok = tokenizers.get(c.tokenizer);
      TokenizedPrompt parsed = tok.encode(c.prompt);
      TokenizedPrompt given = tok.encode(c.prompt, c.genes);
      assertThat(parsed.genes()).as("%s/%s", c.tokenizer, c.name).isEqualTo(given.genes());
      assertThat(parsed.ranks()).isEqualTo(given.ranks());
    }
  }

  @Test
  void badInputNamesWhatIsWrong() {
    PromptTokenizer tok = tokenizers.get("tokenizer.json");
    assertThatThrownBy(() -> tok.encode("The genes are VWF PECAM1.\nAnswer:"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Cell sentence");
    assertThatThrownBy(() -> tok.encode("Cell sentence: VWF PECAM1.\nAnswer:", List.of("VWF", "CDH5")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 genes").hasMessageContaining("VWF CDH5");
    assertThatThrownBy(() -> tok.encode("Cell sentence: VWF  PECAM1.\nAnswer:"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank 1");
    assertThatThrownBy(() -> tok.encode("Cell sentence: VWF PECAM1"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no '.'");
    Path missing = dir.resolve("no_such_tokenizer.json");
    assertThatThrownBy(() -> PromptTokenizer.load(missing))
        .isInstanceOf(IOException.class).hasMessageContaining(missing.toString());
  }

  @Test
  void demoModelTokenizerSpellsEveryMarkerAndEveryAnswerApart() throws IOException {
    // demo/model/tokenizer.json is made by demo/make_demo_tokenizer.mjs; the demo model and its circuits use it.
    Map<String, List<String>> markers = new LinkedHashMap<>();
    List<String> lines = Files.readAllLines(Paths.get("demo/markers.tsv"), StandardCharsets.UTF_8);
    for (String line : lines.subList(1, lines.size())) {
      String[] cols = line.split("\t");
      markers.computeIfAbsent(cols[0], k -> new ArrayList<>()).add(cols[1]);
    }
    List<String> genes = markers.values().stream().flatMap(List::stream).distinct().toList();
    String prompt = "The following is a list of " + genes.size() + " gene names ordered by descending expression "
        + "level in a Homo sapiens cell. Your task is to give the cell type which this cell belongs to based on its "
        + "gene expression.\nCell sentence: " + String.join(" ", genes)
        + ".\nThe cell type corresponding to these genes is:";
    try (PromptTokenizer tok = PromptTokenizer.load(Paths.get("demo/model"))) {
      TokenizedPrompt tp = tok.encode(prompt);
      assertThat(tp.genes()).hasSize(genes.size());
      for (GeneSpan span : tp.genes()) {
        long[] ids = Arrays.copyOfRange(tp.ids(), span.firstToken(), span.lastToken() + 1);
        assertThat(tok.decode(ids).strip()).isEqualTo(span.gene());
        assertThat(span.exclusive()).isTrue();
      }
      assertThat(tp.genes().stream().filter(s -> s.tokenCount() >= 2).count())
          .as("most markers take several tokens, as gene symbols do with Pythia's vocabulary")
          .isGreaterThan(genes.size() / 2);
      Set<Long> firstAnswerTokens = new HashSet<>();
      for (String type : markers.keySet()) {
        firstAnswerTokens.add(tok.ids(" " + type + ".")[0]);
      }
      assertThat(firstAnswerTokens).as("first answer token of each cell type").hasSize(markers.size());
    }
  }

  @Test
  void loadsFromACheckpointFolder() throws IOException {
    try (PromptTokenizer tok = PromptTokenizer.load(dir)) {
      Case c = find("tokenizer.json", "short");
      assertThat(tok.encode(c.prompt).ids()).containsExactly(c.ids);
      assertThat(tok.source()).isEqualTo(dir.resolve("tokenizer.json"));
    }
  }
}
