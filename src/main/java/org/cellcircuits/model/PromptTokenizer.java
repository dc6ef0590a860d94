package org.cellcircuits.model;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Tokenizes C2S prompts with a HuggingFace {@code tokenizer.json} and maps every token back to the gene symbol and
 * sentence rank it came from, so that activations and circuits can be read in genes.
 *
 * <p>Wraps DJL's {@link HuggingFaceTokenizer} with truncation and padding switched off: DJL otherwise cuts every input
 * at 512 tokens, and a C2S prompt of 200 genes is often longer than that with a GPT-NeoX vocabulary. Batching and
 * padding belong to the model code, which knows its pad id and padding side.
 *
 * <p>Offsets: HuggingFace tokenizers report offsets in Unicode code points (checked against the npm bindings on a
 * prompt with an astral-plane character; see {@code src/test/resources/tokenizer/}). Java indexes strings in UTF-16
 * units, so offsets are converted when the prompt holds a character outside the Basic Multilingual Plane; for the
 * ASCII text of real prompts the two coincide.
 *
 * <p>One instance holds native memory; close it. Encoding is thread-safe in the underlying Rust library.
 */
public final class PromptTokenizer implements AutoCloseable {

  /** What C2S templates write just before the cell sentence. */
  public static final String SENTENCE_MARKER = "Cell sentence: ";

  private final HuggingFaceTokenizer tokenizer;
  private final Path source;

  private PromptTokenizer(HuggingFaceTokenizer tokenizer, Path source) {
    this.tokenizer = tokenizer;
    this.source = source;
  }

  /**
   * Loads a tokenizer from a {@code tokenizer.json} file or from the checkpoint folder that holds one.
   *
   * @throws IOException if the file is missing or is not a tokenizer the library can read
   */
  public static PromptTokenizer load(Path tokenizerJsonOrFolder) throws IOException {
    Path file = Files.isDirectory(tokenizerJsonOrFolder)
        ? tokenizerJsonOrFolder.resolve("tokenizer.json") : tokenizerJsonOrFolder;
    if (!Files.isRegularFile(file)) {
      throw new IOException(String.format("tokenizer file %s does not exist; expected a HuggingFace tokenizer.json "
          + "or a checkpoint folder containing one", file));
    }
    try {
      HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder()
          .optTokenizerPath(file)
          .optTruncation(false)
          .optPadding(false)
          .optAddSpecialTokens(true)
          .build();
      return new PromptTokenizer(hf, file);
    } catch (RuntimeException e) {
      throw new IOException(String.format("tokenizer file %s could not be read as a HuggingFace tokenizer.json: %s",
          file, e.getMessage()), e);
    }
  }

  /** The {@code tokenizer.json} this tokenizer was loaded from. */
  public Path source() {
    return source;
  }

  /**
   * Tokenizes a prompt whose cell sentence is known: the genes, joined by single spaces, must follow
   * {@value #SENTENCE_MARKER} in the prompt. Prefer this over {@link #encode(String)} when the genes are at hand
   * (the sentences stage has them): it needs no guess where the sentence ends.
   */
  public TokenizedPrompt encode(String prompt, List<String> genes) {
    if (genes.isEmpty()) {
      throw new IllegalArgumentException("cell sentence has no genes; need at least 1");
    }
    int start = sentenceStart(prompt);
    String sentence = String.join(" ", genes);
    if (!prompt.startsWith(sentence, start)) {
      throw new IllegalArgumentException(String.format(
          "prompt does not continue after '%s' with the given %d genes joined by spaces (expected '%s...', found '%s...')",
          SENTENCE_MARKER.trim(), genes.size(), abbreviate(sentence), abbreviate(prompt.substring(start))));
    }
    return encode(prompt, start, genes);
  }

  /**
   * Tokenizes a prompt and finds its cell sentence: the text after {@value #SENTENCE_MARKER} up to the first '.'
   * that ends a line (is followed by a newline or ends the prompt), as in every C2S cell-type template. Genes are
   * the sentence split at single spaces. A gene symbol that itself ends a line with '.' cannot be told apart from the
   * sentence end; use {@link #encode(String, List)} then.
   */
  public TokenizedPrompt encode(String prompt) {
    int start = sentenceStart(prompt);
    int end = -1;
    for (int i = prompt.indexOf('.', start); i >= 0; i = prompt.indexOf('.', i + 1)) {
      if (i + 1 == prompt.length() || prompt.charAt(i + 1) == '\n') {
        end = i;
        break;
      }
    }
    if (end < 0) {
      throw new IllegalArgumentException(String.format(
          "prompt has no '.' closing the cell sentence after '%s' (looked for '.' before a newline or the end): '%s'",
          SENTENCE_MARKER.trim(), abbreviate(prompt.substring(start))));
    }
    String sentence = prompt.substring(start, end);
    if (sentence.isEmpty()) {
      throw new IllegalArgumentException("cell sentence after '" + SENTENCE_MARKER.trim() + "' is empty");
    }
    String[] genes = sentence.split(" ", -1);
    for (int i = 0; i < genes.length; i++) {
      if (genes[i].isEmpty()) {
        throw new IllegalArgumentException(String.format(
            "cell sentence has an empty gene at rank %d (two spaces in a row, or a leading/trailing space): '%s'",
            i, abbreviate(sentence)));
      }
    }
    return encode(prompt, start, Arrays.asList(genes));
  }

  /** Token ids of any text (an answer such as {@code " endothelial cell."}), with no truncation or padding. */
  public long[] ids(String text) {
    return tokenizer.encode(text).getIds();
  }

  /** The text that token ids spell, special tokens kept. */
  public String decode(long[] ids) {
    return tokenizer.decode(ids, false);
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  private TokenizedPrompt encode(String prompt, int sentenceStart, List<String> genes) {
    int g = genes.size();
    int[] geneStart = new int[g];
    int[] geneEnd = new int[g];
    int pos = sentenceStart;
    for (int r = 0; r < g; r++) {
      String gene = genes.get(r);
      if (gene.isEmpty() || gene.chars().anyMatch(Character::isWhitespace)) {
        throw new IllegalArgumentException(String.format(
            "gene at rank %d is '%s'; a gene symbol must be non-empty and hold no whitespace", r, gene));
      }
      geneStart[r] = pos;
      geneEnd[r] = pos + gene.length();
      pos = geneEnd[r] + 1;
    }
    int sentenceEnd = geneEnd[g - 1];

    Encoding enc = tokenizer.encode(prompt);
    long[] ids = enc.getIds();
    String[] tokens = enc.getTokens();
    CharSpan[] spans = enc.getCharTokenSpans();
    int n = ids.length;
    int[] starts = new int[n];
    int[] ends = new int[n];
    int[] utf16 = codePointToUtf16(prompt);
    for (int i = 0; i < n; i++) {
      CharSpan span = spans[i];
      // Special tokens added by a post-processor have no characters; DJL reports them as null or (0, 0).
      int s = span == null ? 0 : span.getStart();
      int e = span == null ? 0 : span.getEnd();
      if (s < 0 || e < s || e >= utf16.length) {
        throw new IllegalStateException(String.format(
            "tokenizer %s gave token %d (%s) offsets [%d, %d) outside the prompt of %d code points",
            source, i, tokens[i], s, e, utf16.length - 1));
      }
      starts[i] = utf16[s];
      ends[i] = utf16[e];
    }

    int[] ranks = new int[n];
    int gi = 0;
    for (int i = 0; i < n; i++) {
      int p = firstNonWhitespace(prompt, starts[i], ends[i]);
      ranks[i] = -1;
      if (p < sentenceStart || p >= sentenceEnd) {
        continue;
      }
      // Tokens come in text order, so the gene search only moves forward.
      while (gi < g && geneEnd[gi] <= p) {
        gi++;
      }
      if (gi < g && geneStart[gi] <= p) {
        ranks[i] = gi;
      }
    }

    // Tokens come in text order and do not overlap, so one forward pass finds the tokens over each gene.
    int[] first = new int[g];
    int[] last = new int[g];
    Arrays.fill(first, -1);
    int lo = 0;
    for (int i = 0; i < n; i++) {
      if (starts[i] == ends[i]) {
        continue;
      }
      while (lo < g && geneEnd[lo] <= starts[i]) {
        lo++;
      }
      for (int r = lo; r < g && geneStart[r] < ends[i]; r++) {
        if (first[r] < 0) {
          first[r] = i;
        }
        last[r] = i;
      }
    }

    List<GeneSpan> spansOut = new ArrayList<>(g);
    for (int r = 0; r < g; r++) {
      if (first[r] < 0) {
        throw new IllegalStateException(String.format(
            "gene %s (rank %d) at characters [%d, %d) is covered by no token of tokenizer %s; "
                + "the tokenizer truncated the prompt or dropped characters it cannot encode",
            genes.get(r), r, geneStart[r], geneEnd[r], source));
      }
      boolean exclusive = true;
      for (int i = first[r]; i <= last[r]; i++) {
        if (ranks[i] != r) {
          exclusive = false;
          break;
        }
      }
      spansOut.add(new GeneSpan(genes.get(r), r, geneStart[r], geneEnd[r], first[r], last[r], exclusive));
    }
    return new TokenizedPrompt(prompt, sentenceStart, sentenceEnd, ids, tokens, starts, ends, ranks, spansOut);
  }

  private static int sentenceStart(String prompt) {
    int marker = prompt.indexOf(SENTENCE_MARKER);
    if (marker < 0) {
      throw new IllegalArgumentException(String.format(
          "prompt has no '%s' before its cell sentence: '%s'", SENTENCE_MARKER.trim(), abbreviate(prompt)));
    }
    return marker + SENTENCE_MARKER.length();
  }

  /** utf16[k] = UTF-16 index of code point k, for k = 0..codePointCount (the last entry is the string length). */
  private static int[] codePointToUtf16(String s) {
    int cps = s.codePointCount(0, s.length());
    int[] map = new int[cps + 1];
    int idx = 0;
    for (int k = 0; k < cps; k++) {
      map[k] = idx;
      idx += Character.charCount(s.codePointAt(idx));
    }
    map[cps] = s.length();
    return map;
  }

  private static int firstNonWhitespace(String s, int from, int to) {
    for (int p = from; p < to; p++) {
      if (!Character.isWhitespace(s.charAt(p))) {
        return p;
      }
    }
    return -1;
  }

  private static String abbreviate(String s) {
    return s.length() <= 60 ? s : s.substring(0, 60);
  }
}
