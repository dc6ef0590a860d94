package org.cellcircuits.ml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.cellcircuits.jobs.ConfigLoader;
import org.cellcircuits.transcoder.Activation;
import org.cellcircuits.transcoder.Hyperparameter;
import org.cellcircuits.transcoder.LrDecay;
import org.cellcircuits.transcoder.TranscoderArchitecture;
import org.cellcircuits.transcoder.TranscoderConfig;
import org.junit.jupiter.api.Test;

/**
 * {@link TranscoderEstimator}'s hyperparameter params against the train stage's declarations: one param per
 * declaration with its name, doc, type, default (read here from {@code conf/reference.conf} directly) and validator,
 * and every param's value reaching the stage's {@link TranscoderConfig}. No Spark session: params need none.
 */
class HyperparameterParamsTest {

  /** The params that are not hyperparameters: columns, provenance, and how the stage runs. */
  private static final Set<String> NOT_HYPERPARAMETERS = Set.of("inputCol", "targetCol", "featuresCol",
      "reconstructionCol", "modelName", "layer", "maxEpochs", "dataParallelWorkers", "dataShards",
      "microBatchesPerSync");

  private static Config train() {
    return ConfigLoader.reference().getConfig("cellcircuits.train");
  }

  @Test
  void everyDeclarationIsOneParamWithTheDeclarationsDocTypeAndReferenceDefault() {
    TranscoderEstimator est = new TranscoderEstimator();
    Config train = train();
    Set<String> fromDeclarations = new HashSet<>();
    for (Hyperparameter<?, ?> h : TranscoderConfig.hyperparameters()) {
      String name = HyperparameterParams.paramName(h.key());
      fromDeclarations.add(name);
      assertThat(est.hasParam(name)).as("a param %s for %s", name, h.name()).isTrue();
      Param<Object> p = est.getParam(name);
      assertThat(p.doc()).as("doc of %s", name).startsWith("(" + h.name() + ") " + h.description() + "; default ");
      Class<?> type = switch (h.valueType()) {
        case INT -> IntParam.class;
        case LONG -> LongParam.class;
        case DOUBLE, NULLABLE_DOUBLE -> DoubleParam.class;
        case BOOLEAN -> BooleanParam.class;
        case ONE_OF -> Param.class;
      };
      assertThat(p.getClass()).as("type of %s", name).isEqualTo(type);

      Object reference = train.getIsNull(h.key()) ? null : train.getValue(h.key()).unwrapped();
      if (reference == null) {
        assertThat(est.hasDefault(p)).as("%s: reference.conf's null is no default", name).isFalse();
        assertThat(p.doc()).as("doc of %s", name).endsWith("; default null (unset)");
        continue;
      }
      Object actual = est.getDefault(p).get();
      Object expected = switch (h.valueType()) {
        case INT -> train.getInt(h.key());
        case LONG -> train.getLong(h.key());
        case DOUBLE, NULLABLE_DOUBLE -> train.getDouble(h.key());
        case BOOLEAN -> train.getBoolean(h.key());
        case ONE_OF -> train.getString(h.key());
      };
      assertThat(actual).as("default of %s", name).isEqualTo(expected);
      assertThat(p.doc()).as("doc of %s", name).endsWith("; default " + expected);
      assertThat(p.isValid().apply(actual)).as("%s's default passes its validator", name).isEqualTo(true);
    }
    Set<String> others = Arrays.stream(est.params()).map(Param::name).collect(Collectors.toSet());
    others.removeAll(fromDeclarations);
    assertThat(others).as("params not made from a declaration").isEqualTo(NOT_HYPERPARAMETERS);
  }

  @Test
  void aBadValueNamesTheParamTheValueAndTheDeclarationsRange() {
    TranscoderEstimator est = new TranscoderEstimator();
    assertThatThrownBy(() -> est.setLr(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter lr given invalid value 0.0")
        .hasMessageContaining("cellcircuits.train.lr is invalid: 0.0; need > 0 and finite");
    assertThatThrownBy(() -> est.setAdamBeta1(1.0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter adamBeta1 given invalid value 1.0")
        .hasMessageContaining("need in [0, 1)");
    assertThatThrownBy(() -> est.setK(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter k given invalid value 0").hasMessageContaining("need >= 1");
    assertThatThrownBy(() -> est.setTrainingTokens(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter trainingTokens given invalid value 0");
    assertThatThrownBy(() -> est.setInputScale(Double.POSITIVE_INFINITY)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter inputScale given invalid value Infinity");
    assertThatThrownBy(() -> est.setBatchtopkThresholdRate(Double.NaN)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter batchtopkThresholdRate given invalid value NaN");
    assertThatThrownBy(() -> est.setLrDecay("step")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter lrDecay given invalid value step")
        .hasMessageContaining("need one of linear, cosine");
    assertThatThrownBy(() -> est.setKind("vae")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter kind given invalid value vae");
  }

  @Test
  void everyParamReachesTheStagesConfig() {
    TranscoderEstimator est = new TranscoderEstimator().setModelName("m").setLayer(2).setKind("transcoder")
        .setActivation("jumprelu").setK(3).setSkipConnection(true).setExpansionFactor(3).setL1Coefficient(0.5)
        .setL1WarmUpSteps(1).setLr(2e-3).setAdamBeta1(0.8).setAdamBeta2(0.99).setAdamEpsilon(1e-6)
        .setLrWarmUpSteps(2).setLrDecaySteps(3).setLrDecay("cosine").setLrEnd(1e-4).setTrainingTokens(1000)
        .setTrainBatchSizeTokens(10).setDeadFeatureWindowTokens(500).setResampleDeadFeatures(false)
        .setResampleIntervalSteps(7).setDecoderInitNorm(0.2).setSeed(5).setInputScale(2.0).setTargetScale(3.0)
        .setScalingBatches(4).setAuxKCoefficient(0.5).setL0Coefficient(2.0).setJumpreluThresholdInit(0.02)
        .setJumpreluBandwidth(0.1).setBatchtopkThresholdRate(0.5);
    TranscoderArchitecture architecture = new TranscoderArchitecture(Activation.JUMPRELU, 3, 0.5, 2.0, 0.02, 0.1, 0.5,
        true);
    TranscoderConfig expected = TranscoderConfig.builder().modelName("m").layer(2).dIn(4).dOut(5)
        .architecture(architecture).expansionFactor(3).l1Coefficient(0.5).l1WarmUpSteps(1).lr(2e-3).adamBeta1(0.8)
        .adamBeta2(0.99).adamEpsilon(1e-6).lrWarmUpSteps(2).lrDecaySteps(3).lrDecay(LrDecay.COSINE).lrEnd(1e-4)
        .trainingTokens(1000).trainBatchSizeTokens(10).deadFeatureWindow(500).resampleDeadFeatures(false)
        .resampleIntervalSteps(7).decoderInitNorm(0.2).seed(5).inputScale(2.0).targetScale(3.0).scalingBatches(4)
        .build();
    assertThat(est.transcoderConfig(4, 5)).isEqualTo(expected);

    // The defaults are the stage's defaults; an unset scale is null, estimated from the data.
    assertThat(new TranscoderEstimator().setModelName("m").transcoderConfig(4, 4))
        .isEqualTo(TranscoderConfig.fromConfig(train(), "m", 0, 4, 4));
    est.clear(est.inputScale());
    assertThat(est.transcoderConfig(4, 5).inputScale()).isNull();
  }

  @Test
  void theParamsAndTheirValidatorsSerialize() throws Exception {
    TranscoderEstimator est = new TranscoderEstimator().setLr(1e-3);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(est);
    }
    TranscoderEstimator back;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      back = (TranscoderEstimator) in.readObject();
    }
    assertThat(back.getOrDefault(back.lr())).isEqualTo(1e-3);
    assertThatThrownBy(() -> back.setLr(-1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter lr given invalid value -1.0");
  }
}
