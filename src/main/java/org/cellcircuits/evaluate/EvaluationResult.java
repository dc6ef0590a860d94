package org.cellcircuits.evaluate;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The evaluation's figures, as ratios of {@link EvaluationSums}: one {@link VariantScore} per model variant and one
 * {@link LayerScore} per dictionary layer. Losses are means over tokens (total NLL / total tokens over every scored
 * cell), not means of per-cell means, so long prompts weigh by their length.
 *
 * @param variants original, replaced_all, zero_mlp, replaced_layer_L..., in that order
 * @param layers one per dictionary layer, increasing
 * @param cells held-out cells scored
 * @param annotatedCells those with an annotated cell type (the answer loss and accuracy are over them)
 * @param answerTokens answer tokens scored
 * @param promptTokens next-token positions scored over prompt + answer
 */
public record EvaluationResult(List<VariantScore> variants, List<LayerScore> layers, long cells, long annotatedCells,
    long answerTokens, long promptTokens) {

  /**
   * One variant of the model.
   *
   * @param variant its name ({@link Variant})
   * @param layer the layer replaced alone for replaced_layer_L, else null
   * @param answerLoss mean -log p over answer tokens (NaN without annotated cells)
   * @param promptLoss mean -log p over every next-token position of prompt + answer
   * @param kl mean KL(original || variant) over the prompt-loss positions (0 for the original)
   * @param answerKl mean KL(original || variant) over the answer positions
   * @param accuracy share of annotated cells whose greedy answer is the annotation; null where not measured
   */
  public record VariantScore(String variant, Integer layer, double answerLoss, double promptLoss, double kl,
      double answerKl, Double accuracy) {}

  /**
   * One layer's dictionary on the held-out tokens (every prompt token but special tokens).
   *
   * @param layer block index
   * @param kind transcoder or sae
   * @param dSae features
   * @param explainedVariance 1 - sum ||y - y_hat||^2 / sum ||y - mean y||^2, y = MLP output (the MLP input for an
   *     SAE) of the original model
   * @param l0 mean number of features with z > 0 per token
   * @param neverFiredShare share of features with z > 0 on no held-out token
   * @param tokens tokens scored
   * @param answerLossReplacedOnlyThisLayer answer loss with only this layer replaced
   * @param promptLossReplacedOnlyThisLayer prompt loss with only this layer replaced
   * @param klReplacedOnlyThisLayer KL(original || only this layer replaced) over the prompt-loss positions
   */
  public record LayerScore(int layer, String kind, int dSae, double explainedVariance, double l0,
      double neverFiredShare, long tokens, double answerLossReplacedOnlyThisLayer,
      double promptLossReplacedOnlyThisLayer, double klReplacedOnlyThisLayer) {}

  /** The figures of summed results; {@code kinds} gives each layer's dictionary kind, in layer order. */
  public static EvaluationResult of(EvaluationSums s, List<String> kinds) {
    List<Variant> all = Variant.all(s.layers);
    List<VariantScore> variants = new ArrayList<>();
    for (int v = 0; v < all.size(); v++) {
      Variant variant = all.get(v);
      variants.add(new VariantScore(variant.name(), variant.layer() < 0 ? null : variant.layer(),
          ratio(s.answerNll[v], s.answerTokens), ratio(s.allNll[v], s.allTokens), ratio(s.kl[v], s.allTokens),
          ratio(s.answerKl[v], s.answerTokens),
          variant.scoresAccuracy() && s.annotatedCells > 0 ? (double) s.correct[v] / s.annotatedCells : null));
    }
    List<LayerScore> layers = new ArrayList<>();
    for (int i = 0; i < s.layers.length; i++) {
      long n = s.evTokens[i];
      double squaredMean = 0;
      for (double sum : s.targetSum[i]) {
        squaredMean += sum * sum;
      }
      double variance = s.targetSumSq[i] - (n == 0 ? 0 : squaredMean / n); // sum ||y - mean y||^2
      double ev = n == 0 ? Double.NaN : 1 - s.sse[i] / variance;
      long never = 0;
      for (long f : s.fired[i]) {
        if (f == 0) {
          never++;
        }
      }
      VariantScore alone = variants.get(3 + i);
      layers.add(new LayerScore(s.layers[i], kinds.get(i), s.dSae[i], ev, ratio(s.active[i], n),
          (double) never / s.dSae[i], n, alone.answerLoss(), alone.promptLoss(), alone.kl()));
    }
    return new EvaluationResult(variants, layers, s.cells, s.annotatedCells, s.answerTokens, s.allTokens);
  }

  private static double ratio(double sum, long n) {
    return n == 0 ? Double.NaN : sum / n;
  }

  /** A variant by name. */
  public VariantScore variant(String name) {
    return variants.stream().filter(v -> v.variant().equals(name)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no variant " + name));
  }

  /**
   * The figures for the stage marker: {@code <metric>_<variant>} for answer_loss, prompt_loss, kl, answer_kl and
   * accuracy (e.g. {@code answer_loss_replaced_all}); per layer {@code explained_variance_layer_L},
   * {@code l0_layer_L}, {@code never_fired_share_layer_L}, {@code d_sae_layer_L}; and the counts. NaN figures (nothing
   * to average) are left out.
   */
  public Map<String, Double> stats() {
    Map<String, Double> out = new LinkedHashMap<>();
    out.put("cells", (double) cells);
    out.put("annotated_cells", (double) annotatedCells);
    out.put("answer_tokens", (double) answerTokens);
    out.put("prompt_tokens", (double) promptTokens);
    out.put("layers", (double) layers.size());
    for (VariantScore v : variants) {
      put(out, "answer_loss_" + v.variant(), v.answerLoss());
      put(out, "prompt_loss_" + v.variant(), v.promptLoss());
      if (!v.variant().equals(Variant.ORIGINAL)) {
        put(out, "kl_" + v.variant(), v.kl());
        put(out, "answer_kl_" + v.variant(), v.answerKl());
      }
      if (v.accuracy() != null) {
        put(out, "accuracy_" + v.variant(), v.accuracy());
      }
    }
    double minEv = Double.NaN;
    for (LayerScore l : layers) {
      put(out, "explained_variance_layer_" + l.layer(), l.explainedVariance());
      put(out, "l0_layer_" + l.layer(), l.l0());
      put(out, "never_fired_share_layer_" + l.layer(), l.neverFiredShare());
      out.put("d_sae_layer_" + l.layer(), (double) l.dSae());
      if (!Double.isNaN(l.explainedVariance())) {
        minEv = Double.isNaN(minEv) ? l.explainedVariance() : Math.min(minEv, l.explainedVariance());
      }
    }
    put(out, "explained_variance_min", minEv);
    return out;
  }

  private static void put(Map<String, Double> out, String key, double value) {
    if (!Double.isNaN(value)) {
      out.put(key, value);
    }
  }

  private static final Pattern VARIANT_KEY = Pattern.compile("prompt_loss_(.+)");
  private static final Pattern LAYER_KEY = Pattern.compile("d_sae_layer_(\\d+)");

  /**
   * The evaluation as two short fixed-width tables, from {@link #stats()} (so that a stage marker prints the same
   * table as the run that wrote it).
   */
  public static String table(Map<String, Double> stats) {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "evaluation on %s held-out cells (%s answer tokens, %s prompt+answer "
            + "positions); losses in nats per token%n", count(stats.get("cells")), count(stats.get("answer_tokens")),
        count(stats.get("prompt_tokens"))));
    b.append(String.format(Locale.ROOT, "  %-20s %11s %11s %9s %9s %8s%n", "variant", "answer_loss", "prompt_loss",
        "kl", "answer_kl", "accuracy"));
    List<String> names = new ArrayList<>();
    for (String key : stats.keySet()) {
      Matcher m = VARIANT_KEY.matcher(key);
      if (m.matches()) {
        names.add(m.group(1));
      }
    }
    names.sort((x, y) -> Integer.compare(rank(x), rank(y)) != 0 ? Integer.compare(rank(x), rank(y))
        : Integer.compare(layerOf(x), layerOf(y)));
    for (String v : names) {
      b.append(String.format(Locale.ROOT, "  %-20s %11s %11s %9s %9s %8s%n", v, num(stats.get("answer_loss_" + v)),
          num(stats.get("prompt_loss_" + v)), num(stats.getOrDefault("kl_" + v, v.equals(Variant.ORIGINAL) ? 0.0
              : null)), num(stats.getOrDefault("answer_kl_" + v, v.equals(Variant.ORIGINAL) ? 0.0 : null)),
          percent(stats.get("accuracy_" + v))));
    }
    TreeSet<Integer> layers = new TreeSet<>();
    for (String key : stats.keySet()) {
      Matcher m = LAYER_KEY.matcher(key);
      if (m.matches()) {
        layers.add(Integer.parseInt(m.group(1)));
      }
    }
    b.append(String.format(Locale.ROOT, "  %-5s %7s %9s %9s %11s %16s%n", "layer", "d_sae", "expl_var", "l0",
        "never_fired", "answer_loss_only"));
    for (int l : layers) {
      b.append(String.format(Locale.ROOT, "  %-5d %7s %9s %9s %11s %16s%n", l, count(stats.get("d_sae_layer_" + l)),
          num(stats.get("explained_variance_layer_" + l)), num(stats.get("l0_layer_" + l)),
          percent(stats.get("never_fired_share_layer_" + l)), num(stats.get("answer_loss_replaced_layer_" + l))));
    }
    return b.toString();
  }

  private static int rank(String variant) {
    return switch (variant) {
      case Variant.ORIGINAL -> 0;
      case Variant.REPLACED_ALL -> 1;
      case Variant.ZERO_MLP -> 2;
      default -> 3;
    };
  }

  private static int layerOf(String variant) {
    int i = variant.lastIndexOf('_');
    try {
      return Integer.parseInt(variant.substring(i + 1));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static String num(Double v) {
    return v == null ? "-" : String.format(Locale.ROOT, "%.4f", v);
  }

  private static String percent(Double v) {
    return v == null ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * v);
  }

  private static String count(Double v) {
    return v == null ? "?" : String.format(Locale.ROOT, "%,d", v.longValue());
  }

  /** The figures as JSON (NaN as null), for {@code evaluation.json}. */
  public JsonObject toJson() {
    JsonObject o = new JsonObject();
    o.addProperty("cells", cells);
    o.addProperty("annotated_cells", annotatedCells);
    o.addProperty("answer_tokens", answerTokens);
    o.addProperty("prompt_tokens", promptTokens);
    JsonArray vs = new JsonArray();
    for (VariantScore v : variants) {
      JsonObject j = new JsonObject();
      j.addProperty("variant", v.variant());
      j.add("layer", v.layer() == null ? JsonNull.INSTANCE : new JsonPrimitive(v.layer()));
      j.add("answer_loss", json(v.answerLoss()));
      j.add("prompt_loss", json(v.promptLoss()));
      j.add("kl", json(v.kl()));
      j.add("answer_kl", json(v.answerKl()));
      j.add("accuracy", v.accuracy() == null ? JsonNull.INSTANCE : json(v.accuracy()));
      vs.add(j);
    }
    o.add("summary", vs);
    JsonArray ls = new JsonArray();
    for (LayerScore l : layers) {
      JsonObject j = new JsonObject();
      j.addProperty("layer", l.layer());
      j.addProperty("kind", l.kind());
      j.addProperty("d_sae", l.dSae());
      j.add("explained_variance", json(l.explainedVariance()));
      j.add("l0", json(l.l0()));
      j.add("never_fired_share", json(l.neverFiredShare()));
      j.addProperty("tokens", l.tokens());
      j.add("answer_loss_replaced_only_this_layer", json(l.answerLossReplacedOnlyThisLayer()));
      j.add("prompt_loss_replaced_only_this_layer", json(l.promptLossReplacedOnlyThisLayer()));
      j.add("kl_replaced_only_this_layer", json(l.klReplacedOnlyThisLayer()));
      ls.add(j);
    }
    o.add("layers", ls);
    return o;
  }

  private static com.google.gson.JsonElement json(double v) {
    return Double.isNaN(v) || Double.isInfinite(v) ? JsonNull.INSTANCE : new JsonPrimitive(v);
  }
}
