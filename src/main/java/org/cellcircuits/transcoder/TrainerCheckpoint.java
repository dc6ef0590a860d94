package org.cellcircuits.transcoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.cellcircuits.io.CanonicalConfig;
import org.cellcircuits.io.SafetensorsDType;
import org.cellcircuits.io.SafetensorsReader;
import org.cellcircuits.io.SafetensorsWriter;
import org.cellcircuits.io.SoftwareVersions;
import org.cellcircuits.optim.AdamW;

/**
 * A {@link TranscoderTrainer}'s state on disk, what a resume needs to continue bit for bit, in a folder
 * {@code step=S} of two files (format 2):
 *
 * <ul>
 *   <li>{@code checkpoint.safetensors}: each trained weight under its name ({@link TranscoderTrainer#trainableNames},
 *       unfolded, scaled units), its Adam moments as {@code adam.m.<name>} and {@code adam.v.<name>}, all F32, and
 *       the dead-feature counters {@code dead.tokens_since_fired} (I64); metadata {@code cellcircuits_config_hash}.</li>
 *   <li>{@code trainer_state.json}: {@code format}, {@code config} ({@link TranscoderConfig#toJson}) and
 *       {@code config_hash}, {@code step}, {@code tokens_seen}, {@code stream_position}, {@code adam_step}, the RNG
 *       state and batchtopk threshold as decimal strings ({@code rng_state}, {@code batch_threshold}),
 *       {@code scaling} (null before it is estimated), the per-step {@code log} by column, and the versions that
 *       wrote it.</li>
 * </ul>
 *
 * The JSON is written last and moved into place, so a folder without it is an interrupted write and is never resumed
 * from.
 */
public final class TrainerCheckpoint {

    static final String TENSORS = "checkpoint.safetensors";
    static final String STATE = "trainer_state.json";
    /** A checkpoint folder: {@code step=S}. */
    static final Pattern STEP_DIR = Pattern.compile("step=(\\d+)");
    private static final int FORMAT = 2;
    private static final String[] LOG_COLUMNS = {"step", "tokens_seen", "loss", "mse", "l1", "l0", "dead_fraction",
        "explained_variance", "lr", "l1_coefficient", "resampled"};

    private TrainerCheckpoint() {}

    /**
     * The trainer's counters beside its tensors.
     *
     * @param scaling null before the factors are estimated
     */
    record Counters(long step, long tokensSeen, long streamPosition, long rngState, double batchThreshold,
            ActivationScaling scaling, List<StepRecord> log) {}

    /** What {@link #load} read: tensors in {@link TranscoderTrainer#trainableNames} order, and the counters. */
    record Saved(List<float[]> weights, List<float[]> firstMoments, List<float[]> secondMoments, long adamStep,
            long[] deadTokens, Counters counters) {}

    /** Writes a checkpoint of a trainer with this config to {@code dir}; {@code weights} in trainable-names order. */
    static void save(Path dir, TranscoderConfig config, List<NDArray> weights, AdamW adam, long[] deadTokens,
            Counters c) {
        SafetensorsWriter w = new SafetensorsWriter();
        List<String> names = TranscoderTrainer.trainableNames(config);
        for (int i = 0; i < weights.size(); i++) {
            String name = names.get(i);
            w.add(name, weights.get(i), SafetensorsDType.F32);
            w.add("adam.m." + name, adam.firstMoment(i), SafetensorsDType.F32);
            w.add("adam.v." + name, adam.secondMoment(i), SafetensorsDType.F32);
        }
        w.add("dead.tokens_since_fired", deadTokens, new long[] {config.dSae()});
        w.metadata("cellcircuits_config_hash", config.hash());
        JsonObject state = new JsonObject();
        state.addProperty("format", FORMAT);
        state.add("config", config.toJson());
        state.addProperty("config_hash", config.hash());
        state.addProperty("step", c.step());
        state.addProperty("tokens_seen", c.tokensSeen());
        state.addProperty("stream_position", c.streamPosition());
        state.addProperty("adam_step", adam.steps());
        state.addProperty("rng_state", Long.toString(c.rngState()));
        state.addProperty("batch_threshold", Double.toString(c.batchThreshold()));
        if (c.scaling() == null) {
            state.add("scaling", JsonNull.INSTANCE);
        } else {
            JsonObject s = new JsonObject();
            s.addProperty("input", c.scaling().input());
            s.addProperty("target", c.scaling().target());
            state.add("scaling", s);
        }
        state.add("log", logToJson(c.log()));
        SoftwareVersions v = SoftwareVersions.current();
        state.addProperty("cellcircuits", v.cellcircuits());
        state.addProperty("djl", v.djl());
        try {
            Files.createDirectories(dir);
            w.write(dir.resolve(TENSORS));
            Path tmp = dir.resolve(STATE + ".tmp");
            Files.writeString(tmp, new GsonBuilder().serializeNulls().create().toJson(state), StandardCharsets.UTF_8);
            Files.move(tmp, dir.resolve(STATE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + dir, e);
        }
    }

    /** The training config a checkpoint was written with. */
    public static TranscoderConfig config(Path dir) {
        Path stateFile = dir.resolve(STATE);
        JsonObject state = readState(dir, stateFile);
        return TranscoderConfig.fromJson(new TranscoderConfig.JsonFields(state, stateFile.toString()).object("config"),
                stateFile + " (config)");
    }

    /**
     * Reads a checkpoint for a trainer with {@code config}, which must be the one it was written with (same hash);
     * otherwise the error lists the keys that differ.
     */
    static Saved load(Path dir, TranscoderConfig config) {
        Path stateFile = dir.resolve(STATE);
        JsonObject state = readState(dir, stateFile);
        TranscoderConfig.JsonFields f = new TranscoderConfig.JsonFields(state, stateFile.toString());
        if (f.integer("format") != FORMAT) {
            throw new IllegalArgumentException(String.format("%s has checkpoint format %d; this build reads %d",
                    stateFile, f.integer("format"), FORMAT));
        }
        JsonObject saved = f.object("config");
        String savedHash = f.string("config_hash");
        if (!savedHash.equals(config.hash())) {
            List<String> diff = CanonicalConfig.differences(saved, config.toJson());
            throw new IllegalArgumentException(String.format(
                    "checkpoint %s was written by another training config; it cannot continue this one. "
                            + "Differences (checkpoint -> now): %s. Resume with the checkpoint's config or start a "
                            + "fresh run in another folder", dir, diff.isEmpty() ? "(none in the values: hash " + savedHash
                            + ")" : String.join("; ", diff)));
        }
        List<float[]> weights = new ArrayList<>();
        List<float[]> first = new ArrayList<>();
        List<float[]> second = new ArrayList<>();
        long[] deadTokens;
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve(TENSORS))) {
            List<String> names = TranscoderTrainer.trainableNames(config);
            long[][] shapes = TranscoderTrainer.trainableShapes(config);
            for (int i = 0; i < names.size(); i++) {
                String name = names.get(i);
                Shape shape = new Shape(shapes[i]);
                weights.add(read(r, name, shape));
                first.add(read(r, "adam.m." + name, shape));
                second.add(read(r, "adam.v." + name, shape));
            }
            deadTokens = r.readLongs("dead.tokens_since_fired");
        }
        long step = f.longValue("step");
        JsonElement s = f.get("scaling");
        ActivationScaling scaling = s.isJsonNull() ? null : new ActivationScaling(
                s.getAsJsonObject().get("input").getAsDouble(), s.getAsJsonObject().get("target").getAsDouble(), false);
        List<StepRecord> log = logFromJson(f.object("log"));
        if (log.size() != step) {
            throw new IllegalArgumentException(String.format(
                    "checkpoint at step %d holds %d log rows; it is damaged", step, log.size()));
        }
        Counters counters = new Counters(step, f.longValue("tokens_seen"), f.longValue("stream_position"),
                Long.parseLong(f.string("rng_state")), Double.parseDouble(f.string("batch_threshold")), scaling, log);
        return new Saved(weights, first, second, f.longValue("adam_step"), deadTokens, counters);
    }

    /** The highest {@code step=S} folder under {@code root} that holds a complete checkpoint. */
    public static Optional<Path> latest(Path root) {
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
                    .filter(TrainerCheckpoint::isComplete)
                    .max((a, b) -> Long.compare(stepOf(a), stepOf(b)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoints in " + root, e);
        }
    }

    /** The step of a {@code step=S} checkpoint folder. */
    static long stepOf(Path p) {
        Matcher m = STEP_DIR.matcher(p.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a step folder: " + p);
        }
        return Long.parseLong(m.group(1));
    }

    private static boolean isComplete(Path dir) {
        return Files.isRegularFile(dir.resolve(STATE)) && Files.isRegularFile(dir.resolve(TENSORS));
    }

    private static JsonObject readState(Path dir, Path stateFile) {
        if (!isComplete(dir)) {
            throw new IllegalArgumentException(String.format(
                    "%s is not a complete checkpoint (needs %s and %s); its writing may have been cut off",
                    dir, TENSORS, STATE));
        }
        try {
            return JsonParser.parseString(Files.readString(stateFile, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + stateFile, e);
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(stateFile + " is not a JSON object: " + e.getMessage(), e);
        }
    }

    private static float[] read(SafetensorsReader r, String name, Shape shape) {
        long[] stored = r.info(name).shape();
        if (!Arrays.equals(stored, shape.getShape())) {
            throw new IllegalArgumentException(String.format("%s: tensor %s has shape %s; the config needs %s",
                    r.source(), name, Arrays.toString(stored), shape));
        }
        return r.readFloats(name);
    }

    private static JsonObject logToJson(List<StepRecord> log) {
        JsonArray[] cols = new JsonArray[LOG_COLUMNS.length];
        for (int c = 0; c < cols.length; c++) {
            cols[c] = new JsonArray();
        }
        for (StepRecord r : log) {
            cols[0].add(r.step());
            cols[1].add(r.tokensSeen());
            cols[2].add(jsonDouble(r.loss()));
            cols[3].add(jsonDouble(r.mse()));
            cols[4].add(jsonDouble(r.l1()));
            cols[5].add(jsonDouble(r.l0()));
            cols[6].add(jsonDouble(r.deadFraction()));
            cols[7].add(jsonDouble(r.explainedVariance()));
            cols[8].add(jsonDouble(r.lr()));
            cols[9].add(jsonDouble(r.l1Coefficient()));
            cols[10].add(r.resampled());
        }
        JsonObject o = new JsonObject();
        for (int c = 0; c < cols.length; c++) {
            o.add(LOG_COLUMNS[c], cols[c]);
        }
        return o;
    }

    /** JSON has no NaN: doubles go as their exact decimal string, which also round-trips bit for bit. */
    private static String jsonDouble(double d) {
        return Double.toString(d);
    }

    private static List<StepRecord> logFromJson(JsonObject o) {
        JsonArray[] cols = new JsonArray[LOG_COLUMNS.length];
        for (int c = 0; c < cols.length; c++) {
            cols[c] = o.getAsJsonArray(LOG_COLUMNS[c]);
        }
        List<StepRecord> out = new ArrayList<>();
        for (int i = 0; i < cols[0].size(); i++) {
            out.add(new StepRecord(cols[0].get(i).getAsLong(), cols[1].get(i).getAsLong(),
                    Double.parseDouble(cols[2].get(i).getAsString()), Double.parseDouble(cols[3].get(i).getAsString()),
                    Double.parseDouble(cols[4].get(i).getAsString()), Double.parseDouble(cols[5].get(i).getAsString()),
                    Double.parseDouble(cols[6].get(i).getAsString()), Double.parseDouble(cols[7].get(i).getAsString()),
                    Double.parseDouble(cols[8].get(i).getAsString()), Double.parseDouble(cols[9].get(i).getAsString()),
                    cols[10].get(i).getAsInt()));
        }
        return out;
    }
}
