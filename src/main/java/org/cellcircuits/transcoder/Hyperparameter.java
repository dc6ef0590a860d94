package org.cellcircuits.transcoder;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.function.DoublePredicate;
import java.util.function.Function;
import org.cellcircuits.io.ConfigChecks;
import org.cellcircuits.io.ReferenceConfig;

/**
 * One training hyperparameter, declared once: its key under {@code cellcircuits.train}, its name in cfg.json and
 * checkpoints (SAELens's where SAELens has one), what it means with its range, and its validator. Reading the run
 * config, validating, and writing and reading the JSON are driven from here; the default is the one in
 * {@code conf/reference.conf} and nowhere else ({@code HyperparameterTest} checks every declaration against it).
 * Public for the MLlib params of {@code ml.TranscoderEstimator}, which are made from these declarations
 * ({@link TranscoderConfig#hyperparameters()}): its key, description, {@link #valueType}, {@link #referenceDefault}
 * and {@link #checkConfigValue}; the rest stays package-private.
 *
 * @param <O> the record that holds the value ({@link TranscoderConfig} or {@link TranscoderArchitecture})
 * @param <T> the value's type
 * @param key         the key under {@code cellcircuits.train}, e.g. {@code l1-coefficient}
 * @param jsonName    the name in cfg.json's {@code training} object and in checkpoints; null if not saved
 * @param description what it does and its range, e.g. "lambda of the sparsity penalty (>= 0)"
 * @param type        how the value is read and written
 * @param validator   the range check; its failure names the full key, the value and the range
 * @param value       the holder's value; null if no record holds it (derived, like expansion-factor)
 */
public record Hyperparameter<O, T>(String key, String jsonName, String description, Type<T> type, Check<T> validator,
        Function<O, T> value) {

    static final String SECTION = "cellcircuits.train.";

    /** How a value is held outside a run config: what kind of MLlib param, for one. */
    public enum ValueType {
        INT, LONG, DOUBLE, BOOLEAN,
        /** A double that may be null ("estimate it from the data"). */
        NULLABLE_DOUBLE,
        /** One of a fixed set of strings, an enum's config names. */
        ONE_OF
    }

    /** {@code conf/reference.conf}'s {@code cellcircuits.train}, parsed once. */
    private static final class Reference {
        static final Config TRAIN = ReferenceConfig.load().getConfig("cellcircuits.train");
    }

    /** A range check that fails with {@link ConfigChecks#invalid}. */
    @FunctionalInterface
    interface Check<T> {
        void check(String name, T value);

        static <T> Check<T> none() {
            return (name, value) -> { };
        }

        static <T extends Number> Check<T> atLeast(long min) {
            return (name, value) -> ConfigChecks.atLeast(name, value.longValue(), min);
        }

        static Check<Double> finiteAtLeast(double min) {
            return (name, value) -> ConfigChecks.finiteAtLeast(name, value, min);
        }

        static Check<Double> positiveFinite() {
            return ConfigChecks::positiveFinite;
        }

        static Check<Double> in(DoublePredicate ok, String need) {
            return (name, value) -> ConfigChecks.require(ok.test(value), name, value, need);
        }
    }

    /** The full key, as errors name it: {@code cellcircuits.train.<key>}. */
    public String name() {
        return SECTION + key;
    }

    /** Fails naming the key, the value and the range unless {@code v} is in range. */
    void check(T v) {
        validator.check(name(), v);
    }

    /** How the value is held outside a run config. */
    public ValueType valueType() {
        return type.valueType();
    }

    /**
     * The default: {@code conf/reference.conf}'s value, as a run config holds it (an Integer, Long, Double, Boolean,
     * or an enum's config name); null where the reference value is null.
     */
    public Object referenceDefault() {
        T v = read(Reference.TRAIN);
        return v == null ? null : configValue(v);
    }

    /**
     * Fails naming the key, the value and the range unless {@code v}, as a run config holds it (see
     * {@link #referenceDefault}), is read and passes {@link #check} as the {@code train} stage reads and checks it.
     */
    public void checkConfigValue(Object v) {
        T value;
        try {
            value = read(ConfigFactory.empty().withValue(key, ConfigValueFactory.fromAnyRef(v)));
        } catch (ConfigException e) {
            throw ConfigChecks.invalid(name(), v, "a value of type " + valueType() + " (" + e.getMessage() + ")");
        }
        check(value);
    }

    /** Whether {@link #check} passes. */
    boolean accepts(T v) {
        try {
            check(v);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The value in the {@code cellcircuits.train} section (not validated: the record's constructor does that). */
    T read(Config train) {
        return type.fromConfig(this, train);
    }

    /** The value under {@link #jsonName} of a saved config; errors name the file. */
    T read(TranscoderConfig.JsonFields f) {
        return type.fromJson(this, f);
    }

    /** Adds {@code owner}'s value under {@link #jsonName}. */
    void write(JsonObject o, O owner) {
        o.add(jsonName, type.toJson(value.apply(owner)));
    }

    /** The value as a run config holds it (enums by their config name). */
    Object configValue(T v) {
        return type.toConfig(v);
    }

    /** Where a record takes its hyperparameters' values from: a run config or a saved JSON. */
    interface Source {
        <T> T get(Hyperparameter<?, T> h);

        /** The {@code cellcircuits.train} section. */
        static Source of(Config train) {
            return new Source() {
                @Override
                public <T> T get(Hyperparameter<?, T> h) {
                    return h.read(train);
                }
            };
        }

        /** A saved config (cfg.json's {@code training}, a checkpoint's {@code config}). */
        static Source of(TranscoderConfig.JsonFields saved) {
            return new Source() {
                @Override
                public <T> T get(Hyperparameter<?, T> h) {
                    return h.read(saved);
                }
            };
        }
    }

    /** How a value of type T is read from a run config and a JSON file and written back. */
    interface Type<T> {
        T fromConfig(Hyperparameter<?, T> h, Config train);

        T fromJson(Hyperparameter<?, T> h, TranscoderConfig.JsonFields f);

        JsonElement toJson(T v);

        default Object toConfig(T v) {
            return v;
        }

        ValueType valueType();
    }

    static final Type<Integer> INT = new Type<>() {
        public Integer fromConfig(Hyperparameter<?, Integer> h, Config c) { return c.getInt(h.key()); }
        public Integer fromJson(Hyperparameter<?, Integer> h, TranscoderConfig.JsonFields f) {
            return f.integer(h.jsonName());
        }
        public JsonElement toJson(Integer v) { return new JsonPrimitive(v); }
        public ValueType valueType() { return ValueType.INT; }
    };

    static final Type<Long> LONG = new Type<>() {
        public Long fromConfig(Hyperparameter<?, Long> h, Config c) { return c.getLong(h.key()); }
        public Long fromJson(Hyperparameter<?, Long> h, TranscoderConfig.JsonFields f) {
            return f.longValue(h.jsonName());
        }
        public JsonElement toJson(Long v) { return new JsonPrimitive(v); }
        public ValueType valueType() { return ValueType.LONG; }
    };

    static final Type<Double> DOUBLE = new Type<>() {
        public Double fromConfig(Hyperparameter<?, Double> h, Config c) { return c.getDouble(h.key()); }
        public Double fromJson(Hyperparameter<?, Double> h, TranscoderConfig.JsonFields f) {
            return f.number(h.jsonName());
        }
        public JsonElement toJson(Double v) { return new JsonPrimitive(v); }
        public ValueType valueType() { return ValueType.DOUBLE; }
    };

    static final Type<Boolean> BOOLEAN = new Type<>() {
        public Boolean fromConfig(Hyperparameter<?, Boolean> h, Config c) { return c.getBoolean(h.key()); }
        public Boolean fromJson(Hyperparameter<?, Boolean> h, TranscoderConfig.JsonFields f) {
            return f.bool(h.jsonName());
        }
        public JsonElement toJson(Boolean v) { return new JsonPrimitive(v); }
        public ValueType valueType() { return ValueType.BOOLEAN; }
    };

    /** A double that may be null (the config's {@code null}, JSON's null): "estimate it from the data". */
    static final Type<Double> NULLABLE_DOUBLE = new Type<>() {
        public Double fromConfig(Hyperparameter<?, Double> h, Config c) {
            return c.getIsNull(h.key()) ? null : c.getDouble(h.key());
        }
        public Double fromJson(Hyperparameter<?, Double> h, TranscoderConfig.JsonFields f) {
            return f.nullableNumber(h.jsonName());
        }
        public JsonElement toJson(Double v) { return v == null ? JsonNull.INSTANCE : new JsonPrimitive(v); }
        public ValueType valueType() { return ValueType.NULLABLE_DOUBLE; }
    };

    /** An enum written by its config name and parsed with {@link ConfigChecks#oneOf}. */
    static <E extends Enum<E>> Type<E> oneOf(E[] values, Function<E, String> configName) {
        return new Type<>() {
            public E fromConfig(Hyperparameter<?, E> h, Config c) {
                return ConfigChecks.oneOf(h.name(), c.getString(h.key()), values, configName);
            }
            public E fromJson(Hyperparameter<?, E> h, TranscoderConfig.JsonFields f) {
                return ConfigChecks.oneOf(h.name(), f.string(h.jsonName()), values, configName);
            }
            public JsonElement toJson(E v) { return new JsonPrimitive(configName.apply(v)); }
            public Object toConfig(E v) { return configName.apply(v); }
            public ValueType valueType() { return ValueType.ONE_OF; }
        };
    }
}
