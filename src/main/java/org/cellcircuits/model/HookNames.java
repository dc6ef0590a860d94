package org.cellcircuits.model;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names of the hook points, spelled as TransformerLens spells them so that analyses written for TransformerLens
 * read our caches unchanged. Every name used anywhere in the project comes from here.
 *
 * <p>Where each point sits, for block L (x is the residual stream entering the block):
 * <pre>
 *   hook_resid_pre = x
 *   ln1.hook_normalized = ln1(x)              attention input
 *   attn.hook_pattern   = softmax(q k^T / sqrt(hs) + mask)   (B, nh, T_query, T_key)
 *   hook_attn_out       = attn(ln1(x))
 *   ln2.hook_normalized = ln2(x)  (parallel)  or ln2(x + attn_out) (sequential)   MLP input
 *   hook_mlp_out        = mlp(ln2.hook_normalized), or the replacement's output
 *   hook_resid_post     = x + attn_out + mlp_out
 * </pre>
 * {@code *.hook_scale} is LayerNorm's 1 / sqrt(var + eps) per position, shape (B, T, 1).
 */
public final class HookNames {

    private static final Pattern LAYER = Pattern.compile("^blocks\\.(\\d+)\\.");

    private HookNames() {}

    public static String embed() {
        return "hook_embed";
    }

    public static String residPre(int layer) {
        return block(layer, "hook_resid_pre");
    }

    public static String ln1Scale(int layer) {
        return block(layer, "ln1.hook_scale");
    }

    public static String ln1Normalized(int layer) {
        return block(layer, "ln1.hook_normalized");
    }

    public static String attnPattern(int layer) {
        return block(layer, "attn.hook_pattern");
    }

    public static String attnOut(int layer) {
        return block(layer, "hook_attn_out");
    }

    public static String ln2Scale(int layer) {
        return block(layer, "ln2.hook_scale");
    }

    /** The MLP input. */
    public static String ln2Normalized(int layer) {
        return block(layer, "ln2.hook_normalized");
    }

    /** Same point as {@link #ln2Normalized}: what the MLP (or a transcoder replacing it) reads. */
    public static String mlpIn(int layer) {
        return ln2Normalized(layer);
    }

    public static String mlpOut(int layer) {
        return block(layer, "hook_mlp_out");
    }

    public static String residPost(int layer) {
        return block(layer, "hook_resid_post");
    }

    public static String lnFinalScale() {
        return "ln_final.hook_scale";
    }

    public static String lnFinalNormalized() {
        return "ln_final.hook_normalized";
    }

    /** Every hook point of a model with {@code numLayers} blocks, in the order the forward pass reaches them. */
    public static List<String> all(int numLayers) {
        List<String> names = new ArrayList<>();
        names.add(embed());
        for (int l = 0; l < numLayers; l++) {
            names.add(residPre(l));
            names.add(ln1Scale(l));
            names.add(ln1Normalized(l));
            names.add(attnPattern(l));
            names.add(attnOut(l));
            names.add(ln2Scale(l));
            names.add(ln2Normalized(l));
            names.add(mlpOut(l));
            names.add(residPost(l));
        }
        names.add(lnFinalScale());
        names.add(lnFinalNormalized());
        return names;
    }

    /** The block index of a {@code blocks.L.*} name, or -1 for the embedding and final LayerNorm. */
    public static int layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static String block(int layer, String suffix) {
        if (layer < 0) {
            throw new IllegalArgumentException("layer must be >= 0, got " + layer);
        }
        return "blocks." + layer + "." + suffix;
    }
}
