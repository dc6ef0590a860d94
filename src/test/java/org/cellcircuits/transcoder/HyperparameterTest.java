package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.cellcircuits.jobs.ConfigLoader;
import org.junit.jupiter.api.Test;

/** Every hyperparameter declaration against {@code conf/reference.conf}, and the files they write. */
class HyperparameterTest {

    /** Keys of {@code cellcircuits.train} that say how the stage runs ({@link TrainParams}), not what it trains. */
    static final Set<String> HOW_IT_RUNS = Set.of("layers", "data-parallel-workers", "data-shards",
            "micro-batches-per-sync", "shuffle-buffer-rows", "max-epochs", "checkpoint-every-steps", "device");

    static Config train() {
        return ConfigLoader.reference().getConfig("cellcircuits.train");
    }

    @Test
    void everyDeclaredKeyIsInTheReferenceConfigAndItsDefaultPassesTheValidator() {
        Config train = train();
        for (Hyperparameter<?, ?> h : TranscoderConfig.all()) {
            assertThat(train.hasPathOrNull(h.key())).as("%s in conf/reference.conf", h.name()).isTrue();
            assertThatCode(() -> checkDefault(h, train)).as("reference default of %s", h.name())
                    .doesNotThrowAnyException();
            assertThat(h.description()).as("%s has a doc", h.name()).isNotBlank();
        }
    }

    private static <T> void checkDefault(Hyperparameter<?, T> h, Config train) {
        h.check(h.read(train));
    }

    @Test
    void everyTrainingKeyOfTheReferenceConfigIsDeclaredOnceWithOneJsonName() {
        List<Hyperparameter<?, ?>> all = TranscoderConfig.all();
        Set<String> declared = all.stream().map(Hyperparameter::key).collect(Collectors.toSet());
        assertThat(declared).as("keys declared once").hasSize(all.size());
        Set<String> reference = new HashSet<>(train().root().keySet());
        reference.removeAll(HOW_IT_RUNS);
        assertThat(declared).as("the training keys of conf/reference.conf").isEqualTo(reference);
        List<String> jsonNames = all.stream().map(Hyperparameter::jsonName).filter(n -> n != null).toList();
        assertThat(new HashSet<>(jsonNames)).as("JSON names used once").hasSize(jsonNames.size());
    }

    @Test
    void theBuilderHoldsNoDefaultOfItsOwn() {
        // A default typed into the builder would drift from reference.conf; its only hyperparameter state is the
        // train section it starts from, plus the shape and dtype, which are not config keys.
        Set<String> fields = Arrays.stream(TranscoderConfig.Builder.class.getDeclaredFields())
                .filter(f -> !Modifier.isStatic(f.getModifiers())).map(Field::getName).collect(Collectors.toSet());
        assertThat(fields).containsExactlyInAnyOrder("train", "modelName", "layer", "dIn", "dOut", "dSae", "dtype");
        assertThat(TranscoderConfig.builder().modelName("m").dIn(16).build())
                .isEqualTo(TranscoderConfig.fromConfig(train(), "m", 0, 16, 16));
    }

    @Test
    void theCommittedCfgJsonIsWrittenAgainByteForByte() throws Exception {
        Path file = Path.of("src/test/resources/ml/transcoder-model-0.1.0/data/cfg.json");
        String text = Files.readString(file, StandardCharsets.UTF_8);
        JsonObject json = JsonParser.parseString(text).getAsJsonObject();
        TranscoderCfgJson.Parsed p = TranscoderCfgJson.read(json, file.toString());
        JsonObject again = TranscoderCfgJson.write(p.config(), p.scaling(), p.provenance());
        assertThat(again).isEqualTo(json);
        String written = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create()
                .toJson(again) + "\n";
        assertThat(written).isEqualTo(text);
    }
}
