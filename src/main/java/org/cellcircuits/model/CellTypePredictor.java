package org.cellcircuits.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Asks a C2S model which cell type a prompt describes: greedy decoding of the answer, and the log-probability of
 * given answers (for scoring the known labels). Prompts are batched, left-padded for decoding so every row's next
 * token is at the last position.
 *
 * <p>Decoding keeps every layer's keys and values ({@link KvCache}), so each answer token after the first costs a
 * one-token forward pass, not a pass over the whole prompt.
 */
public final class CellTypePredictor {

    private final GptNeoX model;
    private final HuggingFaceTokenizer tokenizer;
    private final PredictOptions options;
    private final long eosId;
    private final ForwardOptions forward;

    public CellTypePredictor(GptNeoX model, HuggingFaceTokenizer tokenizer, PredictOptions options) {
        this(model, tokenizer, options, ForwardOptions.logitsOnly());
    }

    /**
     * A predictor for a changed model: {@code forward}'s MLP replacements (transcoders, zero ablations) and edits
     * hold for every pass, the prompt's and each decoding step's. Edits then see one position at a time while
     * decoding, so only position-wise edits (a splice at a hook, a scaled activation) mean the same as in
     * {@link GptNeoX#run}. Its kept hooks and logits mode are ignored.
     */
    public CellTypePredictor(GptNeoX model, HuggingFaceTokenizer tokenizer, PredictOptions options,
            ForwardOptions forward) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options;
        this.eosId = model.config().eosTokenId();
        this.forward = Objects.requireNonNull(forward, "forward");
    }

    /**
     * The checkpoint's {@code tokenizer.json} without DJL's defaults of truncating at 512 tokens and padding (C2S
     * prompts of 200 genes are longer than 512 tokens with some tokenizers).
     */
    public static HuggingFaceTokenizer loadTokenizer(Path checkpointDir) {
        Path file = checkpointDir.resolve("tokenizer.json");
        if (!Files.exists(file)) {
            throw new IllegalArgumentException(String.format("%s has no tokenizer.json", checkpointDir));
        }
        try {
            return HuggingFaceTokenizer.builder()
                    .optTokenizerPath(file)
                    .optTruncation(false)
                    .optPadding(false)
                    .optAddSpecialTokens(true)
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load tokenizer " + file, e);
        }
    }

    /** Greedy answers, one per prompt, in order. */
    public List<Prediction> predict(List<String> prompts) {
        List<Prediction> out = new ArrayList<>(prompts.size());
        for (int from = 0; from < prompts.size(); from += options.batchSize()) {
            out.addAll(predictBatch(prompts.subList(from, Math.min(prompts.size(), from + options.batchSize()))));
        }
        return out;
    }

    private List<Prediction> predictBatch(List<String> prompts) {
        int n = prompts.size();
        List<long[]> prefix = new ArrayList<>(n);
        for (String p : prompts) {
            prefix.add(encode(p, true));
        }
        try (KvCache kv = new KvCache(model.manager().newSubManager(), n, model.config().numLayers())) {
            TokenBatch batch = TokenBatch.leftPadded(prefix, 0);
            kv.reserve(batch.seqLen() + options.maxNewTokens());
            return decode(kv, model.prefill(kv, batch, forward));
        }
    }

    /**
     * Greedy answers for rows of a batch the model already ran, without running their prompts again: row
     * {@code rows[i]}'s prompt is its first {@code promptLengths[i]} tokens (whatever follows them in the batch, say a
     * teacher-forced answer, is never attended to). The cache must come from {@link GptNeoX#run} with this
     * predictor's model changes, its keys and values kept and {@link HookNames#lnFinalNormalized} among its hooks. The
     * answers are {@link #predict}'s for the same prompts up to the order of floating-point sums (other batch shapes).
     * The call consumes the cache's keys and values: each layer's is freed once the last rows are copied out of it
     * (decoding holds the rows it decodes, not the whole batch's keys and values besides).
     */
    public List<Prediction> predictContinuing(ActivationCache cache, int[] rows, int[] promptLengths) {
        if (rows.length != promptLengths.length) {
            throw new IllegalArgumentException(String.format("%d rows but %d prompt lengths", rows.length,
                    promptLengths.length));
        }
        List<Prediction> out = new ArrayList<>(rows.length);
        for (int from = 0; from < rows.length; from += options.batchSize()) {
            int to = Math.min(rows.length, from + options.batchSize());
            out.addAll(continueBatch(cache, Arrays.copyOfRange(rows, from, to),
                    Arrays.copyOfRange(promptLengths, from, to), to == rows.length));
        }
        cache.releaseKeysAndValues();
        return out;
    }

    private List<Prediction> continueBatch(ActivationCache cache, int[] rows, int[] promptLengths,
            boolean lastChunk) {
        int n = rows.length;
        long t = cache.batch().seqLen();
        int length = 0;
        long[] index = new long[n];
        long[] last = new long[n]; // flat (row * T + position) of each prompt's last token
        for (int i = 0; i < n; i++) {
            if (rows[i] < 0 || rows[i] >= cache.batch().batchSize() || promptLengths[i] < 1
                    || promptLengths[i] > cache.batch().length(rows[i])) {
                throw new IllegalArgumentException(String.format(
                        "row %d with a prompt of %d tokens: the batch has %d rows, that row %s real tokens", rows[i],
                        promptLengths[i], cache.batch().batchSize(),
                        rows[i] >= 0 && rows[i] < cache.batch().batchSize() ? cache.batch().length(rows[i]) : "no"));
            }
            length = Math.max(length, promptLengths[i]);
            index[i] = rows[i];
            last[i] = rows[i] * t + promptLengths[i] - 1;
        }
        KvCache source = cache.keysAndValues();
        try (KvCache kv = new KvCache(model.manager().newSubManager(), n, model.config().numLayers())) {
            NDManager m = kv.manager;
            NDArray picked = m.create(index);
            kv.reserve(length + options.maxNewTokens());
            for (int layer = 0; layer < kv.keys.length; layer++) {
                try (NDArray k = promptRows(source.keys[layer], picked, length);
                        NDArray v = promptRows(source.values[layer], picked, length)) {
                    kv.put(layer, k, v); // copied into the decoding's buffers
                }
                if (lastChunk) {
                    source.keys[layer].close();
                    source.values[layer].close();
                }
            }
            kv.startFromPrompts(promptLengths, length);
            NDArray hidden = cache.get(HookNames.lnFinalNormalized()); // (B, T, C)
            NDArray atLast = Ops.rows(m.create(last), hidden.reshape(-1, hidden.getShape().get(2))); // (n, C)
            return decode(kv, GptNeoX.keepLogits(model.unembed(atLast), m));
        }
    }

    /**
     * Rows {@code index} of a layer's keys or values (B, nh, T, hs), positions {@code [0, length)}: one new array of
     * just those (the slice is a view; the row selection copies it out).
     */
    private static NDArray promptRows(NDArray perLayer, NDArray index, int length) {
        try (NDArray prefix = perLayer.get(new NDIndex(":, :, :{}, :", length))) {
            NDArray rows = prefix.get(new NDIndex("{}", index)); // (n, nh, length, hs)
            rows.attach(index.getManager());
            return rows;
        }
    }

    /** Greedy decoding from the next-token logits (n, V) of a batch whose keys and values {@code kv} holds. */
    private List<Prediction> decode(KvCache kv, NDArray logits) {
        int n = kv.batchSize;
        List<List<Long>> generated = new ArrayList<>(n);
        double[] logProb = new double[n];
        String[] answer = new String[n];
        boolean[] stopped = new boolean[n];
        for (int i = 0; i < n; i++) {
            generated.add(new ArrayList<>());
        }
        for (int step = 0; step < options.maxNewTokens(); step++) {
            float[] logProbs;
            long vocab = logits.getShape().get(1);
            try (NDArray lp = logits.logSoftmax(-1)) {
                logProbs = lp.toFloatArray();
            }
            logits.close();
            long[] next = new long[n]; // finished rows are fed token 0; their outputs are ignored
            boolean anyOpen = false;
            for (int i = 0; i < n; i++) {
                if (answer[i] != null) {
                    continue;
                }
                int best = 0;
                for (int v = 1; v < vocab; v++) {
                    if (logProbs[(int) (i * vocab + v)] > logProbs[(int) (i * vocab + best)]) {
                        best = v;
                    }
                }
                generated.get(i).add((long) best);
                logProb[i] += logProbs[(int) (i * vocab + best)];
                next[i] = best;
                String stop = stopText(generated.get(i));
                if (stop != null) {
                    answer[i] = stop;
                    stopped[i] = true;
                } else {
                    anyOpen = true;
                }
            }
            if (!anyOpen || step == options.maxNewTokens() - 1) {
                break;
            }
            logits = model.decodeStep(kv, next, forward);
        }
        List<Prediction> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long[] ids = generated.get(i).stream().mapToLong(Long::longValue).toArray();
            String text = answer[i] != null ? answer[i] : tokenizer.decode(ids, true).trim();
            out.add(new Prediction(text, ids, logProb[i], stopped[i]));
        }
        return out;
    }

    /** The answer if the generated tokens end it (end-of-text, newline, or '.' when asked), else null. */
    private String stopText(List<Long> ids) {
        long last = ids.get(ids.size() - 1);
        long[] arr = ids.stream().mapToLong(Long::longValue).toArray();
        if (last == eosId) {
            return tokenizer.decode(Arrays.copyOf(arr, arr.length - 1), true).trim();
        }
        String text = tokenizer.decode(arr, true);
        int cut = text.indexOf('\n');
        if (options.stopAtPeriod()) {
            int dot = text.indexOf('.');
            if (dot >= 0 && (cut < 0 || dot < cut)) {
                cut = dot;
            }
        }
        return cut >= 0 ? text.substring(0, cut).trim() : null;
    }

    /**
     * log P(answer | prompt) for each (prompt, answer) pair: the sum of the answer tokens' log-probabilities. The
     * prompt and the answer are tokenized separately and joined, which is the conditional greedy decoding
     * continues ({@code " endothelial cell."} after a prompt ending in {@code "is:"}).
     */
    public double[] answerLogProbs(List<String> prompts, List<String> answers) {
        if (prompts.size() != answers.size()) {
            throw new IllegalArgumentException(String.format("%d prompts but %d answers", prompts.size(), answers.size()));
        }
        double[] out = new double[prompts.size()];
        for (int from = 0; from < prompts.size(); from += options.batchSize()) {
            int to = Math.min(prompts.size(), from + options.batchSize());
            double[] part = answerLogProbsBatch(prompts.subList(from, to), answers.subList(from, to));
            System.arraycopy(part, 0, out, from, part.length);
        }
        return out;
    }

    private double[] answerLogProbsBatch(List<String> prompts, List<String> answers) {
        int n = prompts.size();
        List<long[]> rows = new ArrayList<>(n);
        int[] promptLen = new int[n];
        List<Long> targetIds = new ArrayList<>();
        List<Long> readFrom = new ArrayList<>(); // flat (row * T + position) whose logits predict the target
        List<Integer> targetRow = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long[] p = encode(prompts.get(i), true);
            long[] a = encode(answers.get(i), false);
            if (a.length == 0) {
                throw new IllegalArgumentException(String.format("answer %d (\"%s\") has no tokens", i, answers.get(i)));
            }
            promptLen[i] = p.length;
            rows.add(concat(p, a));
        }
        TokenBatch batch = TokenBatch.rightPadded(rows, 0);
        for (int i = 0; i < n; i++) {
            long[] row = rows.get(i);
            for (int pos = promptLen[i]; pos < row.length; pos++) {
                targetIds.add(row[pos]);
                readFrom.add((long) i * batch.seqLen() + pos - 1);
                targetRow.add(i);
            }
        }
        double[] out = new double[n];
        try (NDManager manager = model.manager().newSubManager();
                ActivationCache cache = model.run(manager, batch,
                        forward.withLogits(LogitsMode.NONE).keeping(List.of(HookNames.lnFinalNormalized())))) {
            NDArray hidden = cache.get(HookNames.lnFinalNormalized()); // (B, T, C)
            NDManager m = cache.manager();
            NDArray flat = hidden.reshape(-1, hidden.getShape().get(2)); // (B*T, C)
            NDArray picked = Ops.rows(m.create(readFrom.stream().mapToLong(Long::longValue).toArray()), flat); // (N, C)
            NDArray logits = model.unembed(picked).toType(DataType.FLOAT32, false); // (N, V)
            NDArray targets = m.create(targetIds.stream().mapToLong(Long::longValue).toArray(), new Shape(targetIds.size(), 1));
            float[] lp = logits.logSoftmax(-1).gather(targets, 1).toFloatArray(); // (N, 1)
            for (int k = 0; k < lp.length; k++) {
                out[targetRow.get(k)] += lp[k];
            }
        }
        return out;
    }

    private long[] encode(String text, boolean addSpecialTokens) {
        return tokenizer.encode(text, addSpecialTokens, false).getIds();
    }

    private static long[] concat(long[] a, List<Long> b) {
        long[] out = Arrays.copyOf(a, a.length + b.size());
        for (int i = 0; i < b.size(); i++) {
            out[a.length + i] = b.get(i);
        }
        return out;
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
