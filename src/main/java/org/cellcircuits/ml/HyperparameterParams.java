package org.cellcircuits.ml;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;
import org.cellcircuits.transcoder.Hyperparameter;
import org.cellcircuits.transcoder.TranscoderConfig;
import scala.runtime.AbstractFunction1;

/**
 * The {@code train} stage's hyperparameters ({@link TranscoderConfig#hyperparameters()}) as MLlib params of one owner,
 * one param per declaration, nothing typed twice: its name is the key in camelCase ({@code l1-warm-up-steps} ->
 * {@code l1WarmUpSteps}), its doc the declaration's description with the full key and {@code conf/reference.conf}'s
 * default, its validator the declaration's own check ({@link Hyperparameter#checkConfigValue}), its default
 * reference.conf's. Types: int, long, double and boolean keys give Int-, Long-, Double- and BooleanParams; an enum
 * gives a {@code Param<String>} of its config names; a nullable double (input-scale) a DoubleParam with no default
 * when reference.conf's is null: unset means null.
 *
 * <p>MLlib finds params by reflection over the owner's public no-argument methods ({@code Params.params},
 * {@code getParam(name)}, persistence), so the owner still declares one accessor per param, returning
 * {@link #get}; {@link #setDefaults} fails naming any declaration that has none.
 */
final class HyperparameterParams implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Key under {@code cellcircuits.train} to its param, in declaration order. */
  private final Map<String, Param<Object>> byKey;

  private HyperparameterParams(Map<String, Param<Object>> byKey) {
    this.byKey = Collections.unmodifiableMap(byKey);
  }

  /** A param for every declared hyperparameter, owned by {@code owner} (whose uid must be set). */
  static HyperparameterParams of(Params owner) {
    Map<String, Param<Object>> byKey = new LinkedHashMap<>();
    for (Hyperparameter<?, ?> h : TranscoderConfig.hyperparameters()) {
      byKey.put(h.key(), param(owner, h));
    }
    return new HyperparameterParams(byKey);
  }

  /** MLlib's name of a key: {@code dead-feature-window-tokens} -> {@code deadFeatureWindowTokens}. */
  static String paramName(String key) {
    StringBuilder b = new StringBuilder(key.length());
    boolean upper = false;
    for (char c : key.toCharArray()) {
      if (c == '-') {
        upper = true;
      } else {
        b.append(upper ? Character.toUpperCase(c) : c);
        upper = false;
      }
    }
    return b.toString();
  }

  /** The doc line: {@code (cellcircuits.train.<key>) <description>; default <reference.conf's value>}. */
  static String doc(Hyperparameter<?, ?> h) {
    Object d = h.referenceDefault();
    return String.format("(%s) %s; default %s", h.name(), h.description(), d == null ? "null (unset)" : d);
  }

  @SuppressWarnings("unchecked")
  private static Param<Object> param(Params owner, Hyperparameter<?, ?> h) {
    String name = paramName(h.key());
    String doc = doc(h);
    return switch (h.valueType()) {
      case INT -> new IntParam(owner, name, doc, new Validator<>(owner.uid(), name, h.key()));
      case LONG -> new LongParam(owner, name, doc, new Validator<>(owner.uid(), name, h.key()));
      case DOUBLE, NULLABLE_DOUBLE -> new DoubleParam(owner, name, doc, new Validator<>(owner.uid(), name, h.key()));
      case BOOLEAN -> new BooleanParam(owner, name, doc);
      case ONE_OF -> (Param<Object>) (Param<?>) new Param<String>(owner, name, doc,
          new Validator<String>(owner.uid(), name, h.key()));
    };
  }

  /** The param named {@code name}, for the owner's accessor of that name. */
  @SuppressWarnings("unchecked")
  <P extends Param<?>> P get(String name) {
    for (Param<Object> p : byKey.values()) {
      if (p.name().equals(name)) {
        return (P) p;
      }
    }
    throw new IllegalArgumentException(String.format("%s is not a hyperparameter param; declared: %s", name,
        byKey.values().stream().map(Param::name).toList()));
  }

  /** Every param, in declaration order. */
  Iterable<Param<Object>> all() {
    return byKey.values();
  }

  /** Sets reference.conf's defaults on {@code owner} (none where it is null); call once every accessor works. */
  void setDefaults(Params owner) {
    for (Map.Entry<String, Param<Object>> e : byKey.entrySet()) {
      Param<Object> p = e.getValue();
      if (!owner.hasParam(p.name())) {
        throw new IllegalStateException(String.format("%s has no public accessor %s() for the hyperparameter "
            + "cellcircuits.train.%s; MLlib finds (and saves) params only through their accessors",
            owner.getClass().getName(), p.name(), e.getKey()));
      }
      Object d = TranscoderConfig.hyperparameter(e.getKey()).referenceDefault();
      if (d != null) {
        owner.setDefault(p, d);
      }
    }
  }

  /** {@code train} with every key replaced by {@code owner}'s value of its param (null where unset). */
  Config applyTo(Params owner, Config train) {
    Config c = train;
    for (Map.Entry<String, Param<Object>> e : byKey.entrySet()) {
      Object v = owner.isDefined(e.getValue()) ? owner.getOrDefault(e.getValue()) : null;
      c = c.withValue(e.getKey(), ConfigValueFactory.fromAnyRef(v));
    }
    return c;
  }

  /**
   * An MLlib validator that is the declaration's check: serializable (it holds only names and looks the
   * declaration up by key), and failing as MLlib does, naming the owner, the param and the value, followed by the
   * declaration's reason ({@code ... given invalid value 0.0: cellcircuits.train.lr is invalid: 0.0; need > 0 ...}).
   */
  private static final class Validator<T> extends AbstractFunction1<T, Object> implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String owner;
    private final String param;
    private final String key;

    Validator(String owner, String param, String key) {
      this.owner = owner;
      this.param = param;
      this.key = key;
    }

    @Override
    public Object apply(T value) {
      try {
        TranscoderConfig.hyperparameter(key).checkConfigValue(value);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(String.format("%s parameter %s given invalid value %s: %s", owner, param,
            value, e.getMessage()), e);
      }
      return true;
    }
  }
}
