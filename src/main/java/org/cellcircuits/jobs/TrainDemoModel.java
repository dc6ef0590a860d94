package org.cellcircuits.jobs;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.model.ActivationCache;
import org.cellcircuits.model.AnswerEvaluation;
import org.cellcircuits.model.AnswerExample;
import org.cellcircuits.model.AnswerTrainer;
import org.cellcircuits.model.CellTypePredictor;
import org.cellcircuits.model.ForwardOptions;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.model.HeldOutSplit;
import org.cellcircuits.model.LogitsMode;
import org.cellcircuits.model.NeoXConfig;
import org.cellcircuits.model.Prediction;
import org.cellcircuits.model.TokenBatch;
import org.cellcircuits.model.TrainerParams;
import org.cellcircuits.model.TrainingReport;
import org.cellcircuits.sentences.AtlasMeta;
import org.cellcircuits.sentences.AtlasOptions;
import org.cellcircuits.sentences.AtlasReader;
import org.cellcircuits.sentences.AtlasReaders;
import org.cellcircuits.sentences.AtlasSubset;
import org.cellcircuits.sentences.CellBlock;
import org.cellcircuits.sentences.CellSentence;
import org.cellcircuits.sentences.CellSentenceBuilder;
import org.cellcircuits.sentences.NumpyRandomState;
import org.cellcircuits.sentences.PromptTemplate;
import org.cellcircuits.sentences.SentencesParams;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains the demo's small C2S model from the demo atlas and its tokenizer, and writes it as a HuggingFace
 * checkpoint folder ({@code config.json}, {@code model.safetensors} beside {@code tokenizer.json}). No Spark: the
 * atlas is read with the sentences package's reader and sentence builder directly, in atlas order, so the prompts
 * are exactly those the {@code sentences} stage writes for the same settings. Deterministic for a given atlas,
 * tokenizer, settings and PyTorch thread count ({@code jobs/make-demo-model} pins one thread).
 */
@Command(name = "train-demo-model", mixinStandardHelpOptions = true,
        description = "Train the demo C2S GPT-NeoX model on the demo atlas and save it as a HuggingFace folder.")
public final class TrainDemoModel implements Callable<Integer> {

    /** Genes per cell sentence in the demo (the sentences stage's top-k for the demo run). */
    public static final int DEMO_TOP_K = 64;

    @Option(names = "--atlas", defaultValue = "demo/heart_demo.h5ad", description = "atlas (.h5ad, 10x folder or Parquet); default ${DEFAULT-VALUE}")
    Path atlas;

    @Option(names = "--tokenizer", defaultValue = "demo/model/tokenizer.json", description = "tokenizer.json; default ${DEFAULT-VALUE}")
    Path tokenizerFile;

    @Option(names = "--out", defaultValue = "demo/model", description = "checkpoint folder to write; default ${DEFAULT-VALUE}")
    Path out;

    @Option(names = "--top-k", defaultValue = "" + DEMO_TOP_K, description = "genes per cell sentence (sentences.top-k); default ${DEFAULT-VALUE}")
    int topK;

    @Option(names = "--limit-cells", defaultValue = "0", description = "use only the first N cells (0 = all)")
    int limitCells;

    @Option(names = "--layers", defaultValue = "4") int layers;
    @Option(names = "--hidden", defaultValue = "128") int hidden;
    @Option(names = "--heads", defaultValue = "4") int heads;
    @Option(names = "--mlp", defaultValue = "512") int mlp;
    @Option(names = "--rotary-pct", defaultValue = "0.25") double rotaryPct;
    @Option(names = "--max-positions", defaultValue = "1024", description = "max_position_embeddings; room for K = 200 prompts")
    int maxPositions;
    @Option(names = "--init-seed", defaultValue = "1234", description = "seed of the initial weights") long initSeed;

    @Option(names = "--steps", defaultValue = "600") int steps;
    @Option(names = "--batch-size", defaultValue = "16") int batchSize;
    @Option(names = "--lr", defaultValue = "1e-3") double learningRate;
    @Option(names = "--warmup", defaultValue = "50") int warmup;
    @Option(names = "--weight-decay", defaultValue = "0.01") double weightDecay;
    @Option(names = "--seed", defaultValue = "42", description = "seed of the held-out split and the batch order") long seed;
    @Option(names = "--held-out", defaultValue = "0.1", description = "share of each cell type's cells held out") double heldOut;
    @Option(names = "--log-every", defaultValue = "25") int logEvery;
    @Option(names = "--eval-every", defaultValue = "0") int evalEvery;

    @Option(names = "--dtype", defaultValue = "F16", description = "weights in model.safetensors: F32 or F16; default ${DEFAULT-VALUE}")
    SafetensorsDType dtype;

    @Option(names = "--export-held-out", description = "write the held-out cells' token ids, greedy answers and some "
            + "last-position logits of the saved model to this JSON file (for demo/check_demo_model.py)")
    Path exportHeldOut;

    @Option(names = "--export-logits", defaultValue = "16", description = "held-out cells whose logits are exported")
    int exportLogits;

    public static void main(String[] args) {
        System.exit(new CommandLine(new TrainDemoModel()).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        long start = System.nanoTime();
        SentencesParams sentences = SentencesParams.builder().topK(topK).build();
        List<AnswerExample> examples = demoExamples(atlas, sentences, limitCells);
        System.out.printf("%d cells of %s, top %d genes, ties %s, template 0%n", examples.size(), atlas, topK, sentences.ties());

        Path tokenizerDir = tokenizerFile.toAbsolutePath().getParent();
        Files.createDirectories(out);
        if (!Files.isSameFile(tokenizerDir, out)) {
            Files.copy(tokenizerFile, out.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
        }
        TokenizerFacts facts = TokenizerFacts.read(tokenizerFile);
        NeoXConfig config = new NeoXConfig(hidden, heads, layers, mlp, rotaryPct, 10000, true, 1e-5, facts.vocabSize(), maxPositions,
                false, true, facts.endOfTextId());
        TrainerParams params = TrainerParams.builder().steps(steps).batchSize(batchSize).learningRate(learningRate).warmupSteps(warmup)
                .weightDecay(weightDecay).seed(seed).heldOutFraction(heldOut).logEvery(logEvery).evalEvery(evalEvery).build();
        System.out.printf("model: %d layers, d_model %d, %d heads, d_mlp %d, rotary_pct %s, vocab %d, eos %d; init seed %d%n",
                layers, hidden, heads, mlp, rotaryPct, facts.vocabSize(), facts.endOfTextId(), initSeed);
        System.out.println("trainer: " + params);

        HeldOutSplit split = HeldOutSplit.byLabel(examples, params.heldOutFraction(), params.seed());
        AnswerTrainer trainer = new AnswerTrainer(params, System.out::println);
        try (HuggingFaceTokenizer tokenizer = CellTypePredictor.loadTokenizer(tokenizerDir)) {
            TrainingReport report;
            try (GptNeoX model = GptNeoX.initialize(config, Device.cpu(), initSeed)) {
                report = trainer.train(model, tokenizer, split.train(), split.heldOut());
                model.save(out, dtype);
            }
            System.out.printf("trained %d steps in %.1f s (%.0f tokens/s); final loss %.4f%n", params.steps(), report.wallSeconds(),
                    report.tokensPerSecond(), report.finalLoss());
            try (GptNeoX saved = GptNeoX.load(out, Device.cpu())) {
                AnswerEvaluation shipped = trainer.evaluate(saved, tokenizer, split.heldOut());
                System.out.printf("saved %s model (%s weights), reloaded: %s", out, dtype, shipped.summary());
                if (exportHeldOut != null) {
                    export(saved, tokenizer, shipped, exportHeldOut, exportLogits, facts.endOfTextId());
                    System.out.println("wrote " + exportHeldOut);
                }
            }
        }
        System.out.printf("wall time %.1f s%n", (System.nanoTime() - start) / 1e9);
        return 0;
    }

    /**
     * One C2S cell-type example per cell of the atlas, in atlas order: the sentences stage's sentence (one numpy
     * generator through all cells, as cell2sentence draws its tie-breaks) in cell2sentence's template 0.
     */
    static List<AnswerExample> demoExamples(Path atlasPath, SentencesParams params, int limit) throws IOException {
        AtlasOptions options = AtlasOptions.defaults().withObsColumns(params.cellTypeColumn(), null, null);
        List<AnswerExample> out = new ArrayList<>();
        try (AtlasReader reader = AtlasReaders.open(atlasPath.toString(), options)) {
            AtlasMeta meta = reader.meta();
            long n = limit > 0 ? Math.min(limit, meta.nCells()) : meta.nCells();
            CellSentenceBuilder builder = CellSentenceBuilder.of(meta, AtlasSubset.all(meta.nGenes()), params);
            NumpyRandomState rng = new NumpyRandomState(params.seed());
            for (long from = 0; from < n; from += params.rowsPerRead()) {
                CellBlock block = reader.read(from, Math.min(n, from + params.rowsPerRead()));
                String[] types = block.obs().get(params.cellTypeColumn());
                for (int r = 0; r < block.rows(); r++) {
                    String id = block.cellIds()[r];
                    if (types[r] == null || types[r].isBlank()) {
                        throw new IllegalArgumentException(String.format(
                                "atlas %s: cell %s has no %s; every demo cell needs a label", atlasPath, id, params.cellTypeColumn()));
                    }
                    CellSentence cs = builder.build(id, block.indices(), block.values(), block.indptr()[r], block.indptr()[r + 1], rng);
                    String prompt = params.template().format(params.topK(), params.organism(), cs.sentence());
                    out.add(new AnswerExample(id, prompt, PromptTemplate.answer(types[r]), types[r]));
                }
            }
        }
        return out;
    }

    /** Vocabulary size and end-of-text id of a tokenizer.json, for the model config. */
    record TokenizerFacts(int vocabSize, int endOfTextId) {
        static TokenizerFacts read(Path file) {
            JsonObject root;
            try {
                root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read tokenizer " + file, e);
            }
            int max = -1;
            for (Map.Entry<String, JsonElement> e : root.getAsJsonObject("model").getAsJsonObject("vocab").entrySet()) {
                max = Math.max(max, e.getValue().getAsInt());
            }
            int eos = -1;
            for (JsonElement t : root.getAsJsonArray("added_tokens")) {
                JsonObject o = t.getAsJsonObject();
                max = Math.max(max, o.get("id").getAsInt());
                if (o.get("content").getAsString().equals("<|endoftext|>")) {
                    eos = o.get("id").getAsInt();
                }
            }
            if (eos < 0) {
                throw new IllegalArgumentException(String.format("tokenizer %s has no <|endoftext|> added token; the model needs an end-of-text id", file));
            }
            return new TokenizerFacts(max + 1, eos);
        }
    }

    /**
     * The held-out cells as the Python check reads them: prompt ids, the ids greedy decoding generated, the decoded
     * answer and label, and for the first {@code logitCells} cells the logits at the last prompt position.
     */
    static void export(GptNeoX model, HuggingFaceTokenizer tokenizer, AnswerEvaluation eval, Path file, int logitCells, int eos)
            throws IOException {
        JsonObject root = new JsonObject();
        root.addProperty("eos_token_id", eos);
        root.addProperty("accuracy", eval.accuracy());
        JsonArray cells = new JsonArray();
        try (NDManager manager = model.manager().newSubManager()) {
            for (int i = 0; i < eval.examples().size(); i++) {
                AnswerExample e = eval.examples().get(i);
                Prediction p = eval.predictions().get(i);
                long[] ids = tokenizer.encode(e.prompt(), true, false).getIds();
                JsonObject c = new JsonObject();
                c.addProperty("cell_id", e.id());
                c.addProperty("label", e.label());
                c.addProperty("answer", p.answer());
                c.add("prompt_ids", longs(ids));
                c.add("generated_ids", longs(p.tokenIds()));
                if (i < logitCells) {
                    try (ActivationCache cache = model.run(manager, TokenBatch.rightPadded(List.of(ids), 0),
                            ForwardOptions.logitsOnly().withLogits(LogitsMode.LAST))) {
                        NDArray logits = cache.logits();
                        JsonArray a = new JsonArray();
                        for (float f : logits.toFloatArray()) {
                            a.add(f);
                        }
                        c.add("last_logits", a);
                    }
                }
                cells.add(c);
            }
        }
        root.add("cells", cells);
        if (file.toAbsolutePath().getParent() != null) {
            Files.createDirectories(file.toAbsolutePath().getParent());
        }
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            new GsonBuilder().create().toJson(root, w);
        }
    }

    private static JsonArray longs(long[] values) {
        JsonArray a = new JsonArray();
        for (long v : values) {
            a.add(v);
        }
        return a;
    }
}
