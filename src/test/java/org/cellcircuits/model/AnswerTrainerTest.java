package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.cellcircuits.io.SafetensorsDType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tiny model learns a task it cannot do before training: each prompt is ten random letters a..j with one
 * planted capital R, G or B at a random place, and the answer names the colour the capital stands for. Greedy
 * decoding through {@link CellTypePredictor} on prompts never trained on must get it right. Byte-level tokenizer
 * (one token per byte, end-of-text 256), so the model must find the planted byte by attention.
 */
class AnswerTrainerTest {

    static final NeoXConfig TINY = new NeoXConfig(64, 4, 2, 256, 0.25, 10000, true, 1e-5, 257, 64, false, true, 256);
    static final String[] COLOURS = {"red", "green", "blue"};

    static HuggingFaceTokenizer tokenizer;

    @BeforeAll
    static void loadTokenizer() {
        tokenizer = CellTypePredictor.loadTokenizer(NeoXFixtures.folder("parallel_rot25").getParent().resolve("bytelevel"));
    }

    @AfterAll
    static void closeTokenizer() {
        tokenizer.close();
    }

    static List<AnswerExample> plantedColourTask(int n, long seed) {
        Random r = new Random(seed);
        List<AnswerExample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int colour = r.nextInt(3);
            StringBuilder sb = new StringBuilder();
            int at = r.nextInt(11);
            for (int k = 0; k < 11; k++) {
                sb.append(k == at ? "RGB".charAt(colour) : (char) ('a' + r.nextInt(10)));
            }
            sb.append(':');
            out.add(AnswerExample.cellType("p" + i, sb.toString(), COLOURS[colour]));
        }
        return out;
    }

    @Test
    void trainingSolvesThePlantedTokenTaskOnHeldOutPrompts(@TempDir Path dir) {
        List<AnswerExample> examples = plantedColourTask(900, 1);
        List<String> log = new ArrayList<>();
        TrainerParams params = TrainerParams.builder().steps(160).batchSize(32).learningRate(3e-3).warmupSteps(16)
                .weightDecay(0.01).heldOutFraction(0.15).logEvery(50).seed(3).build();
        AnswerTrainer trainer = new AnswerTrainer(params, log::add);
        HeldOutSplit split = HeldOutSplit.byLabel(examples, params.heldOutFraction(), params.seed());
        try (GptNeoX model = GptNeoX.initialize(TINY, Device.cpu(), 11)) {
            AnswerEvaluation before = trainer.evaluate(model, tokenizer, split.heldOut());
            TrainingReport report = trainer.fit(model, tokenizer, examples);

            assertThat(report.heldOut().examples()).isEqualTo(split.heldOut());
            assertThat(before.accuracy()).as("untrained accuracy").isLessThan(0.2);
            assertThat(report.heldOut().accuracy()).as("held-out accuracy after training:%n%s", report.heldOut().summary())
                    .isGreaterThanOrEqualTo(0.95);
            for (AnswerEvaluation.LabelAccuracy a : report.heldOut().perLabel()) {
                assertThat(a.accuracy()).as("accuracy of %s", a.label()).isGreaterThanOrEqualTo(0.9);
            }
            double[] losses = report.stepLosses();
            double first = Arrays.stream(losses, 0, 10).average().getAsDouble();
            assertThat(first).as("initial loss is near ln(257) = 5.55").isGreaterThan(4.5);
            assertThat(report.finalLoss()).as("final loss vs first steps' %f", first).isLessThan(0.05 * first);
            assertThat(report.trainExamples()).isEqualTo(split.train().size());
            assertThat(report.inputTokens()).isGreaterThan(160L * 32 * 16);
            assertThat(log).anySatisfy(l -> assertThat(l).startsWith("step 160/160").contains("loss").contains("tok/s").contains("eta"));
            assertThat(String.join("\n", log)).contains("held-out accuracy").contains("green");

            // the trained checkpoint saved as a HuggingFace folder answers the same after loading
            model.save(dir, SafetensorsDType.F32);
            assertThat(dir.resolve("config.json")).exists();
            try (GptNeoX loaded = GptNeoX.load(dir, Device.cpu())) {
                AnswerEvaluation again = trainer.evaluate(loaded, tokenizer, split.heldOut());
                for (int i = 0; i < again.predictions().size(); i++) {
                    assertThat(again.predictions().get(i).answer()).isEqualTo(report.heldOut().predictions().get(i).answer());
                }
            }

            // trained on " red.<|endoftext|>": decoding without the '.' stop rule ends on end-of-text right after '.'
            List<Prediction> open = new CellTypePredictor(model, tokenizer, new PredictOptions(12, 8, false))
                    .predict(split.heldOut().subList(0, 8).stream().map(AnswerExample::prompt).toList());
            for (Prediction p : open) {
                long[] ids = p.tokenIds();
                assertThat(p.stopped()).as("decoding of %s stopped", Arrays.toString(ids)).isTrue();
                assertThat(ids[ids.length - 1]).isEqualTo(256);
                assertThat(ids[ids.length - 2]).isEqualTo('.');
            }
        }
    }

    @Test
    void examplesLongerThanTheModelsContextAreRejected() {
        AnswerExample tooLong = AnswerExample.cellType("x", "a".repeat(70) + ":", "red");
        try (GptNeoX model = GptNeoX.initialize(TINY, Device.cpu(), 13)) {
            assertThatThrownBy(() -> new AnswerTrainer(TrainerParams.defaults(), l -> { }).train(model, tokenizer, List.of(tooLong), List.of()))
                    .hasMessageContaining("76 tokens").hasMessageContaining("max_position_embeddings is 64");
        }
    }
}
