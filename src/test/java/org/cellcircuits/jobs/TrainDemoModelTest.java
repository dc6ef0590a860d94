package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.util.ArrayList;
import org.cellcircuits.model.AnswerEvaluation;
import org.cellcircuits.model.AnswerExample;
import org.cellcircuits.model.AnswerTrainer;
import org.cellcircuits.model.CellTypePredictor;
import org.cellcircuits.model.HeldOutSplit;
import org.cellcircuits.model.TrainerParams;
import org.cellcircuits.model.GptNeoX;
import org.cellcircuits.sentences.AtlasOptions;
import org.cellcircuits.sentences.AtlasReader;
import org.cellcircuits.sentences.AtlasReaders;
import org.cellcircuits.sentences.CellBlock;
import org.cellcircuits.sentences.SentencesParams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The demo training job's prompts (checked against the atlas's counts) and its output folder. */
class TrainDemoModelTest {

    static final Path ATLAS = Path.of("demo/heart_demo.h5ad");

    @Test
    void theDemoPipelineBuildsSentencesWithTheTopKTheModelWasTrainedOn() {
        com.typesafe.config.Config demo = ConfigLoader.load(Path.of("conf/demo.conf"), List.of());
        assertThat(demo.getInt("cellcircuits.sentences.top-k")).isEqualTo(TrainDemoModel.DEMO_TOP_K);
    }

    @Test
    void promptsHoldEachCellsTopKGenesInTemplate0WithItsOwnLabel() throws IOException {
        int k = TrainDemoModel.DEMO_TOP_K;
        List<AnswerExample> examples = TrainDemoModel.demoExamples(ATLAS, SentencesParams.builder().topK(k).build(), 300);
        assertThat(examples).hasSize(300);
        try (AtlasReader reader = AtlasReaders.open(ATLAS.toString(), AtlasOptions.defaults())) {
            CellBlock block = reader.read(0, 300);
            List<String> symbols = reader.meta().geneSymbols();
            String[] types = block.obs().get("cell_type");
            for (int r = 0; r < 300; r++) {
                AnswerExample e = examples.get(r);
                assertThat(e.id()).isEqualTo(block.cellIds()[r]);
                assertThat(e.label()).isEqualTo(types[r]);
                assertThat(e.answer()).isEqualTo(" " + types[r] + ".");
                assertThat(e.prompt()).startsWith("The following is a list of " + k + " gene names ordered by descending "
                        + "expression level in a Homo sapiens cell. Your task is to give the cell type which this cell belongs "
                        + "to based on its gene expression.\nCell sentence: ").endsWith(".\nThe cell type corresponding to these genes is:");
                String sentence = e.prompt().substring(e.prompt().indexOf("Cell sentence: ") + 15, e.prompt().lastIndexOf(".\n"));
                String[] genes = sentence.split(" ");
                Map<String, Double> counts = new HashMap<>();
                for (int j = block.indptr()[r]; j < block.indptr()[r + 1]; j++) {
                    counts.put(symbols.get(block.indices()[j]).toUpperCase(java.util.Locale.ROOT), block.values()[j]);
                }
                assertThat(genes).as("cell %s", e.id()).hasSize(Math.min(k, counts.size())).doesNotHaveDuplicates();
                double[] inSentence = Arrays.stream(genes).mapToDouble(g -> counts.getOrDefault(g, 0.0)).toArray();
                for (int i = 1; i < inSentence.length; i++) {
                    assertThat(inSentence[i]).as("cell %s rank %d", e.id(), i).isLessThanOrEqualTo(inSentence[i - 1]);
                }
                double kth = inSentence[inSentence.length - 1];
                assertThat(kth).isPositive();
                List<String> sentenceGenes = List.of(genes);
                counts.forEach((gene, count) -> {
                    if (count > kth) {
                        assertThat(sentenceGenes).as("cell %s: %s (count %s > %s) is in the top %d", e.id(), gene, count, kth, k).contains(gene);
                    }
                });
            }
        }
    }

    @Test
    void shippedDemoModelNamesTheCellTypeOfHeldOutCells() throws IOException {
        List<AnswerExample> all = TrainDemoModel.demoExamples(ATLAS, SentencesParams.builder().topK(TrainDemoModel.DEMO_TOP_K).build(), 0);
        TrainerParams params = TrainerParams.defaults();
        // the split TrainDemoModel trained with: these cells were never trained on
        List<AnswerExample> heldOut = HeldOutSplit.byLabel(all, params.heldOutFraction(), params.seed()).heldOut();
        Map<String, Integer> taken = new HashMap<>();
        List<AnswerExample> sample = new ArrayList<>();
        for (AnswerExample e : heldOut) {
            if (taken.merge(e.label(), 1, Integer::sum) <= 4) {
                sample.add(e);
            }
        }
        assertThat(taken).hasSize(12);
        try (GptNeoX model = GptNeoX.load(Path.of("demo/model"), Device.cpu());
                HuggingFaceTokenizer tokenizer = CellTypePredictor.loadTokenizer(Path.of("demo/model"))) {
            AnswerEvaluation eval = new AnswerTrainer(params, l -> { }).evaluate(model, tokenizer, sample);
            assertThat(eval.accuracy()).as("%s", eval.summary()).isGreaterThanOrEqualTo(0.9);
        }
    }

    @Test
    void writesAHuggingFaceFolderThatLoadsAndTheHeldOutExport(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("model");
        Path held = dir.resolve("held_out.json");
        int rc = new CommandLine(new TrainDemoModel()).execute("--limit-cells", "240", "--top-k", "16", "--steps", "3", "--warmup", "1",
                "--layers", "1", "--hidden", "32", "--mlp", "64", "--batch-size", "4", "--out", out.toString(),
                "--export-held-out", held.toString(), "--export-logits", "2");
        assertThat(rc).isZero();
        assertThat(out.resolve("tokenizer.json")).hasSameBinaryContentAs(Path.of("demo/model/tokenizer.json"));
        JsonObject config = JsonParser.parseString(Files.readString(out.resolve("config.json"))).getAsJsonObject();
        assertThat(config.get("architectures").getAsJsonArray().get(0).getAsString()).isEqualTo("GPTNeoXForCausalLM");
        assertThat(config.get("model_type").getAsString()).isEqualTo("gpt_neox");
        assertThat(config.get("torch_dtype").getAsString()).isEqualTo("float16");
        assertThat(config.get("vocab_size").getAsInt()).isEqualTo(2000);
        assertThat(config.get("eos_token_id").getAsInt()).isZero();
        assertThat(config.get("bos_token_id").getAsInt()).isZero();
        try (GptNeoX model = GptNeoX.load(out, Device.cpu())) {
            assertThat(model.config().numLayers()).isEqualTo(1);
            assertThat(model.config().hiddenSize()).isEqualTo(32);
        }
        JsonObject export = JsonParser.parseString(Files.readString(held)).getAsJsonObject();
        // each cell type among the first 240 cells keeps 10% (at least 1 when it has 2 or more) for evaluation
        assertThat(export.getAsJsonArray("cells").size()).isBetween(5, 40);
        JsonObject first = export.getAsJsonArray("cells").get(0).getAsJsonObject();
        assertThat(first.getAsJsonArray("prompt_ids").size()).isGreaterThan(50);
        assertThat(first.getAsJsonArray("last_logits").size()).isEqualTo(2000);
        assertThat(export.getAsJsonArray("cells").get(2).getAsJsonObject().has("last_logits")).isFalse();
    }
}
