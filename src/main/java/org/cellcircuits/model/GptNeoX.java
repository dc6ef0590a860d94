package org.cellcircuits.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.io.SafetensorsReader;
import org.cellcircuits.io.SafetensorsTensor;
import org.cellcircuits.io.SafetensorsWriter;

/**
 * GPT-NeoX causal language model (HF {@code GPTNeoXForCausalLM}) written in DJL NDArray operations on the PyTorch
 * engine, so every intermediate can be hooked and any MLP swapped. Parameters keep the checkpoint's names.
 *
 * <pre>
 *   x = embed_in(ids)                                          hook_embed
 *   for each block L: x = block_L(x)                           blocks.L.*
 *   h = final_layer_norm(x)                                    ln_final.hook_normalized
 *   logits = h embed_out^T   (embed_in^T when tied)
 * </pre>
 * Owns the native memory of its weights: close it when done.
 */
public final class GptNeoX implements AutoCloseable {

    /** LayerNorm parameters stay fp32 on every device; see {@link Precision}. */
    private static final String[] FP32_SUFFIXES = {"layernorm.weight", "layernorm.bias", "layer_norm.weight", "layer_norm.bias"};
    /** Large enough that exp() underflows to exactly 0, small enough that adding it to a score cannot overflow. */
    private static final float MASKED = -1e9f;

    private final NeoXConfig config;
    private final Precision precision;
    private final NDManager manager;
    private final Map<String, NDArray> parameters;
    private final Embedding embedding;
    private final Rotary rotary;
    private final List<Block> blocks = new ArrayList<>();
    private final LayerNorm lnFinal;
    private final NDArray unembedWeight;

    private GptNeoX(NeoXConfig config, Precision precision, NDManager manager, Map<String, NDArray> parameters) {
        this.config = config;
        this.precision = precision;
        this.manager = manager;
        this.parameters = Collections.unmodifiableMap(parameters);
        this.embedding = new Embedding(param("gpt_neox.embed_in.weight"));
        this.rotary = new Rotary(manager, config.rotaryDims(), config.rotaryBase(), config.maxPositions(), precision.dataType());
        for (int l = 0; l < config.numLayers(); l++) {
            String p = "gpt_neox.layers." + l + ".";
            LayerNorm ln1 = new LayerNorm(param(p + "input_layernorm.weight"), param(p + "input_layernorm.bias"),
                    config.layerNormEps(), HookNames.ln1Scale(l), HookNames.ln1Normalized(l));
            LayerNorm ln2 = new LayerNorm(param(p + "post_attention_layernorm.weight"), param(p + "post_attention_layernorm.bias"),
                    config.layerNormEps(), HookNames.ln2Scale(l), HookNames.ln2Normalized(l));
            Attention attn = new Attention(param(p + "attention.query_key_value.weight"), parameters.get(p + "attention.query_key_value.bias"),
                    param(p + "attention.dense.weight"), parameters.get(p + "attention.dense.bias"), config, rotary, l);
            Mlp mlp = new Mlp(param(p + "mlp.dense_h_to_4h.weight"), param(p + "mlp.dense_h_to_4h.bias"),
                    param(p + "mlp.dense_4h_to_h.weight"), param(p + "mlp.dense_4h_to_h.bias"));
            blocks.add(new Block(l, config.parallelResidual(), ln1, attn, ln2, mlp));
        }
        this.lnFinal = new LayerNorm(param("gpt_neox.final_layer_norm.weight"), param("gpt_neox.final_layer_norm.bias"),
                config.layerNormEps(), HookNames.lnFinalScale(), HookNames.lnFinalNormalized());
        this.unembedWeight = config.tiedEmbeddings() ? param("gpt_neox.embed_in.weight") : param("embed_out.weight");
    }

    private NDArray param(String name) {
        NDArray p = parameters.get(name);
        if (p == null) {
            throw new IllegalStateException("parameter missing after load: " + name);
        }
        return p;
    }

    /**
     * The parameters a checkpoint for {@code config} must hold, with their shapes, in the order HF lists them.
     * A tied model has no {@code embed_out.weight}; a model without attention bias has no QKV/dense biases.
     */
    public static Map<String, Shape> parameterShapes(NeoXConfig config) {
        long c = config.hiddenSize();
        long m = config.intermediateSize();
        Map<String, Shape> s = new LinkedHashMap<>();
        s.put("gpt_neox.embed_in.weight", new Shape(config.vocabSize(), c));
        for (int l = 0; l < config.numLayers(); l++) {
            String p = "gpt_neox.layers." + l + ".";
            s.put(p + "input_layernorm.weight", new Shape(c));
            s.put(p + "input_layernorm.bias", new Shape(c));
            s.put(p + "post_attention_layernorm.weight", new Shape(c));
            s.put(p + "post_attention_layernorm.bias", new Shape(c));
            s.put(p + "attention.query_key_value.weight", new Shape(3 * c, c));
            if (config.attentionBias()) {
                s.put(p + "attention.query_key_value.bias", new Shape(3 * c));
            }
            s.put(p + "attention.dense.weight", new Shape(c, c));
            if (config.attentionBias()) {
                s.put(p + "attention.dense.bias", new Shape(c));
            }
            s.put(p + "mlp.dense_h_to_4h.weight", new Shape(m, c));
            s.put(p + "mlp.dense_h_to_4h.bias", new Shape(m));
            s.put(p + "mlp.dense_4h_to_h.weight", new Shape(c, m));
            s.put(p + "mlp.dense_4h_to_h.bias", new Shape(c));
        }
        s.put("gpt_neox.final_layer_norm.weight", new Shape(c));
        s.put("gpt_neox.final_layer_norm.bias", new Shape(c));
        if (!config.tiedEmbeddings()) {
            s.put("embed_out.weight", new Shape(config.vocabSize(), c));
        }
        return s;
    }

    /** Loads a HuggingFace checkpoint folder in the device's default precision (fp32 on CPU, bf16 on GPU). */
    public static GptNeoX load(Path dir, Device device) {
        return load(dir, device, Precision.defaultFor(device));
    }

    /**
     * Loads a HuggingFace checkpoint folder: {@code config.json} and {@code model.safetensors} (or shards listed in
     * {@code model.safetensors.index.json}), F32/F16/BF16. Tensors the forward does not use (HF's old
     * {@code attention.bias}/{@code masked_bias}/{@code rotary_emb.inv_freq} buffers) are ignored.
     */
    public static GptNeoX load(Path dir, Device device, Precision precision) {
        Path configFile = dir.resolve("config.json");
        if (!Files.exists(configFile)) {
            throw new IllegalArgumentException(String.format("%s is not a HuggingFace checkpoint folder: no config.json", dir));
        }
        NeoXConfig config = NeoXConfig.read(configFile);
        precision.checkSupportedOn(device);
        NDManager manager = NDManager.newBaseManager(device, "PyTorch");
        Map<String, NDArray> params = new LinkedHashMap<>();
        try (SafetensorsReader reader = SafetensorsReader.open(dir)) {
            for (Map.Entry<String, Shape> e : parameterShapes(config).entrySet()) {
                String name = e.getKey();
                Shape expected = e.getValue();
                if (!reader.contains(name)) {
                    throw new IllegalArgumentException(String.format(
                            "checkpoint %s lacks tensor %s (expected shape %s from config.json)", reader.source(), name, expected));
                }
                SafetensorsTensor info = reader.info(name);
                if (!Arrays.equals(info.shape(), expected.getShape())) {
                    throw new IllegalArgumentException(String.format(
                            "tensor %s in %s has shape %s; config.json implies %s",
                            name, info.file(), Arrays.toString(info.shape()), expected));
                }
                // A fresh direct buffer per tensor: the NDArray keeps it alive and may alias it, which must never
                // be the read-only file mapping.
                ByteBuffer buf = ByteBuffer.allocateDirect(Math.toIntExact(info.numel() * 4)).order(ByteOrder.nativeOrder());
                reader.readFloatsInto(name, buf);
                NDArray array = manager.create(buf, expected, DataType.FLOAT32);
                params.put(name, toPrecision(array, name, precision));
            }
            return new GptNeoX(config, precision, manager, new LinkedHashMap<>(params));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    private static NDArray toPrecision(NDArray array, String name, Precision precision) {
        if (precision == Precision.FP32 || isFp32Parameter(name)) {
            return array;
        }
        NDArray cast = array.toType(precision.dataType(), false);
        array.close();
        return cast;
    }

    private static boolean isFp32Parameter(String name) {
        for (String s : FP32_SUFFIXES) {
            if (name.endsWith(s)) {
                return true;
            }
        }
        return false;
    }

    /**
     * A freshly initialised model as HF initialises GPT-NeoX: weights ~ N(0, 0.02), biases 0, LayerNorm 1 and 0.
     * For training a model from scratch (the demo).
     */
    public static GptNeoX initialize(NeoXConfig config, Device device, long seed) {
        Precision.FP32.checkSupportedOn(device);
        NDManager manager = NDManager.newBaseManager(device, "PyTorch");
        Random random = new Random(seed);
        Map<String, NDArray> params = new LinkedHashMap<>();
        for (Map.Entry<String, Shape> e : parameterShapes(config).entrySet()) {
            String name = e.getKey();
            float[] v = new float[Math.toIntExact(e.getValue().size())];
            if (name.endsWith("layernorm.weight") || name.endsWith("layer_norm.weight")) {
                Arrays.fill(v, 1f);
            } else if (name.endsWith(".weight")) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (random.nextGaussian() * 0.02);
                }
            }
            params.put(name, manager.create(v, e.getValue()));
        }
        return new GptNeoX(config, Precision.FP32, manager, params);
    }

    /** Writes {@code config.json} and {@code model.safetensors} so the folder loads here and in HF transformers. */
    public void save(Path dir, SafetensorsDType dtype) {
        SafetensorsWriter writer = new SafetensorsWriter();
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            writer.add(e.getKey(), e.getValue(), dtype);
        }
        writer.write(dir.resolve("model.safetensors"));
        try {
            var json = config.toJson();
            json.addProperty("torch_dtype", switch (dtype) {
                case F16 -> "float16";
                case BF16 -> "bfloat16";
                default -> "float32";
            });
            Files.writeString(dir.resolve("config.json"),
                    new com.google.gson.GsonBuilder().setPrettyPrinting().create().toJson(json), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve("config.json"), e);
        }
    }

    public NeoXConfig config() {
        return config;
    }

    public Precision precision() {
        return precision;
    }

    public Device device() {
        return manager.getDevice();
    }

    /** The manager owning the weights; make long-lived companions (transcoders) as its sub-managers. */
    public NDManager manager() {
        return manager;
    }

    /**
     * Parameters under their checkpoint names. For training: {@code setRequiresGradient(true)} on those to learn,
     * then forward inside a GradientCollector.
     */
    public Map<String, NDArray> parameters() {
        return parameters;
    }

    /**
     * Runs the model on a batch. Everything the pass creates lives in a scratch manager closed before returning;
     * only the logits and the kept activations survive, in the returned cache (a sub-manager of {@code parent}).
     * Values at padding positions are meaningless; use {@link TokenBatch#isReal}.
     */
    public ActivationCache run(NDManager parent, TokenBatch batch, ForwardOptions options) {
        return run(parent, batch, options, false);
    }

    /**
     * As {@link #run(NDManager, TokenBatch, ForwardOptions)}; with {@code keepKeysAndValues}, the cache also holds
     * every layer's keys (after rotary) and values, so that {@link CellTypePredictor#predictContinuing} can decode on
     * from a prefix of each row without running it again (2 x layers x d_model values a position).
     */
    public ActivationCache run(NDManager parent, TokenBatch batch, ForwardOptions options, boolean keepKeysAndValues) {
        int b = batch.batchSize();
        int t = batch.seqLen();
        if (t > config.maxPositions()) {
            throw new IllegalArgumentException(String.format(
                    "batch has %d positions; the model's max_position_embeddings is %d", t, config.maxPositions()));
        }
        for (long id : batch.ids()) {
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException(String.format("token id %d is outside the vocabulary [0, %d)", id, config.vocabSize()));
            }
        }
        for (Integer layer : options.mlpReplacements().keySet()) {
            if (layer < 0 || layer >= config.numLayers()) {
                throw new IllegalArgumentException(String.format("MLP replacement for block %d; the model has %d blocks", layer, config.numLayers()));
            }
        }
        ActivationCache cache = new ActivationCache(parent.newSubManager(manager.getDevice()), batch);
        try (NDManager scratch = cache.manager().newSubManager()) {
            HookContext hooks = new HookContext(scratch, options, cache);
            NDArray ids = scratch.create(batch.ids(), new Shape(b, t)); // (B, T)
            NDArray positions = scratch.create(batch.positions(), new Shape(b, t)); // (B, T)
            NDArray maskBias = scratch.create(maskBias(batch), new Shape(b, 1, t, t)); // (B, 1, T, T)
            KvCache kv = null;
            if (keepKeysAndValues) {
                kv = new KvCache(cache.manager().newSubManager(), b, config.numLayers());
                kv.startFrom(batch);
                cache.setKeysAndValues(kv);
            }
            NDArray x = forwardHidden(ids, positions, maskBias, hooks, kv); // (B, T, C)

            NDArray logits = switch (options.logits()) {
                case ALL -> unembed(x); // (B, T, V)
                case LAST -> unembed(lastPositions(x, batch)); // (B, V)
                case NONE -> null;
            };
            if (logits != null) {
                if (logits.getDataType() != DataType.FLOAT32) {
                    logits = logits.toType(DataType.FLOAT32, false);
                }
                logits.attach(cache.manager());
                cache.setLogits(logits);
            }
            hooks.moveKeptToCache();
            return cache;
        } catch (RuntimeException | Error e) {
            cache.close();
            throw e;
        }
    }

    /** Embedding, blocks and final LayerNorm: ids (B, T) -> (B, T, C). */
    private NDArray forwardHidden(NDArray ids, NDArray positions, NDArray maskBias, HookContext hooks, KvCache kv) {
        NDArray[] cosSin = rotary.tables(positions); // (B, 1, T, rot) each
        NDArray x = hooks.point(HookNames.embed(), embedding.forward(ids)); // (B, T, C)
        for (Block block : blocks) {
            // A block's temporaries (QKV, scores, softmax, the MLP's 4C-wide hidden) die when it ends: kept to the end
            // of the pass they grow with depth, ~0.7 GB a block at d_model 1024 and 4,096 tokens, ~16 GB at 24 blocks.
            try (NDManager scope = hooks.enterBlock()) {
                scope.tempAttachAll(x, maskBias, cosSin[0], cosSin[1]);
                x = hooks.exitBlock(block.forward(x, maskBias, cosSin[0], cosSin[1], hooks, kv)); // (B, T, C)
            }
        }
        return lnFinal.forward(x, hooks); // (B, T, C)
    }

    /**
     * Runs a prompt batch (left-padded, so every row ends at T-1) and keeps every layer's keys and values for
     * {@link #decodeStep}. Returns the next-token logits (B, V) fp32, in {@code kv.manager}.
     */
    NDArray prefill(KvCache kv, TokenBatch batch) {
        return prefill(kv, batch, ForwardOptions.logitsOnly());
    }

    /**
     * As {@link #prefill(KvCache, TokenBatch)}, with {@code options}' MLP replacements and edits applied (its kept
     * hooks and logits mode are ignored). Decode with the same options, so every step sees the same model.
     */
    NDArray prefill(KvCache kv, TokenBatch batch, ForwardOptions options) {
        int b = batch.batchSize();
        int t = batch.seqLen();
        checkLength(t);
        kv.startFrom(batch);
        try (NDManager scratch = kv.manager.newSubManager()) {
            HookContext hooks = new HookContext(scratch, options.keeping(name -> false), null);
            NDArray ids = scratch.create(batch.ids(), new Shape(b, t));
            NDArray positions = scratch.create(batch.positions(), new Shape(b, t));
            NDArray maskBias = scratch.create(maskBias(batch), new Shape(b, 1, t, t));
            NDArray x = forwardHidden(ids, positions, maskBias, hooks, kv);
            return keepLogits(unembed(lastPositions(x, batch)), kv.manager);
        }
    }

    /** Feeds one new token per row after what {@code kv} holds; returns the next-token logits (B, V) fp32. */
    NDArray decodeStep(KvCache kv, long[] tokens) {
        return decodeStep(kv, tokens, ForwardOptions.logitsOnly());
    }

    /** As {@link #decodeStep(KvCache, long[])}, with {@code options}' MLP replacements and edits applied. */
    NDArray decodeStep(KvCache kv, long[] tokens, ForwardOptions options) {
        int b = kv.batchSize;
        checkLength(kv.length + 1);
        long[] pos = kv.nextPosition.clone();
        kv.appendOneRealToken();
        int s = kv.length;
        float[] bias = new float[b * s];
        for (int i = 0; i < b * s; i++) {
            bias[i] = kv.keyMask[i] == 1 ? 0f : MASKED;
        }
        try (NDManager scratch = kv.manager.newSubManager()) {
            HookContext hooks = new HookContext(scratch, options.keeping(name -> false), null);
            NDArray ids = scratch.create(tokens, new Shape(b, 1)); // (B, 1)
            NDArray positions = scratch.create(pos, new Shape(b, 1)); // (B, 1)
            NDArray maskBias = scratch.create(bias, new Shape(b, 1, 1, s)); // (B, 1, 1, S)
            NDArray x = forwardHidden(ids, positions, maskBias, hooks, kv); // (B, 1, C)
            return keepLogits(unembed(x.reshape(b, x.getShape().get(2))), kv.manager);
        }
    }

    /** Logits in fp32, attached to {@code into}. */
    static NDArray keepLogits(NDArray logits, NDManager into) {
        NDArray out = logits.getDataType() == DataType.FLOAT32 ? logits : logits.toType(DataType.FLOAT32, false);
        out.attach(into);
        return out;
    }

    private void checkLength(int t) {
        if (t > config.maxPositions()) {
            throw new IllegalArgumentException(String.format(
                    "sequence reaches %d positions; the model's max_position_embeddings is %d", t, config.maxPositions()));
        }
    }

    /** Final-LayerNorm output (..., C) -> logits (..., V) in the model's precision. */
    public NDArray unembed(NDArray hidden) {
        return Ops.linear(hidden, unembedWeight, null);
    }

    /** (B, T, C) -> (B, C) at each row's last real token. */
    static NDArray lastPositions(NDArray x, TokenBatch batch) {
        long b = batch.batchSize();
        long t = batch.seqLen();
        long[] flat = new long[(int) b];
        for (int i = 0; i < b; i++) {
            flat[i] = i * t + batch.lastReal(i);
        }
        NDArray index = x.getManager().create(flat); // (B)
        return Ops.rows(index, x.reshape(b * t, x.getShape().get(2))); // (B, C)
    }

    /** (B, 1, T, T): 0 where query t may attend key s (s <= t, s real), MASKED elsewhere. */
    private static float[] maskBias(TokenBatch batch) {
        int b = batch.batchSize();
        int t = batch.seqLen();
        float[] bias = new float[b * t * t];
        for (int i = 0; i < b; i++) {
            for (int q = 0; q < t; q++) {
                int row = (i * t + q) * t;
                for (int k = 0; k < t; k++) {
                    bias[row + k] = k <= q && batch.isReal(i, k) ? 0f : MASKED;
                }
            }
        }
        return bias;
    }

    @Override
    public void close() {
        manager.close();
    }
}
