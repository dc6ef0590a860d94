package org.cellcircuits.harvest;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.model.TokenizedPrompt;

/**
 * Which prompt tokens of a cell get their MLP input and output stored.
 *
 * <p>Only prompt tokens are candidates. Special tokens (the tokenizer's added tokens marked special, such as a BOS or
 * end-of-text a post-processor puts around the prompt) are never stored; neither are padding positions nor the answer
 * tokens the harvest appends to score the annotated cell type. (A token's character span cannot tell special tokens
 * apart: with trimmed offsets a newline token spans no characters either.)
 *
 * <ul>
 *   <li>{@code all}: every prompt token (template text, gene tokens, punctuation);
 *   <li>{@code genes}: only tokens that spell a gene of the cell sentence (what transcoder features are read in);
 *   <li>{@code fraction}: each prompt token independently with probability {@code fraction}, drawn from a generator
 *       seeded by {@code seed} and the cell id alone, so a rerun, a retried task or another partitioning stores
 *       exactly the same tokens.
 * </ul>
 *
 * @param mode which tokens
 * @param fraction share of prompt tokens kept in {@code fraction} mode, in (0, 1]; ignored otherwise
 * @param seed seed of the {@code fraction} draw
 */
public record TokenPolicy(Mode mode, double fraction, long seed) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The three policies. */
  public enum Mode {
    ALL, GENES, FRACTION;

    /** The value of {@code cellcircuits.harvest.tokens}: {@code all}, {@code genes} or {@code fraction}. */
    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  public TokenPolicy {
    Objects.requireNonNull(mode, "mode");
    ConfigChecks.require(mode != Mode.FRACTION || (fraction > 0 && fraction <= 1),
        "cellcircuits.harvest.token-fraction", fraction, "in (0, 1] for the fraction policy");
  }

  /** Every prompt token. */
  public static TokenPolicy all() {
    return new TokenPolicy(Mode.ALL, 1.0, 0);
  }

  /** Gene tokens only. */
  public static TokenPolicy genes() {
    return new TokenPolicy(Mode.GENES, 1.0, 0);
  }

  /** A seeded random share of prompt tokens. */
  public static TokenPolicy fraction(double fraction, long seed) {
    return new TokenPolicy(Mode.FRACTION, fraction, seed);
  }

  /** {@code all}, {@code genes} or {@code fraction} (trimmed, case-insensitive). */
  public static Mode parseMode(String text) {
    return ConfigChecks.oneOf("cellcircuits.harvest.tokens", text, Mode.values(), Mode::configName);
  }

  /**
   * Indices (into the prompt's tokens, increasing) of the tokens to store for this cell.
   *
   * @param specialIds the tokenizer's special token ids, never stored
   */
  public int[] select(String cellId, TokenizedPrompt prompt, Set<Long> specialIds) {
    int n = prompt.length();
    int[] out = new int[n];
    int k = 0;
    SplittableRandom random = mode == Mode.FRACTION ? new SplittableRandom(cellSeed(cellId)) : null;
    for (int i = 0; i < n; i++) {
      if (specialIds.contains(prompt.id(i))) {
        continue;
      }
      boolean keep = switch (mode) {
        case ALL -> true;
        case GENES -> prompt.rank(i) >= 0;
        // One draw per candidate token, whether kept or not, so the draw for token i never depends on earlier ones.
        case FRACTION -> random.nextDouble() < fraction;
      };
      if (keep) {
        out[k++] = i;
      }
    }
    return Arrays.copyOf(out, k);
  }

  /** The generator seed of one cell: the policy seed mixed with a 64-bit FNV-1a hash of the cell id's UTF-8 bytes. */
  long cellSeed(String cellId) {
    long h = 0xcbf29ce484222325L;
    for (byte b : cellId.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return h ^ (seed * 0x9e3779b97f4a7c15L);
  }

  /** For logs: {@code all}, {@code genes} or {@code fraction 0.1 (seed 42)}. */
  public String describe() {
    return mode == Mode.FRACTION
        ? String.format(Locale.ROOT, "fraction %s (seed %d)", fraction, seed)
        : mode.configName();
  }
}
