package org.cellcircuits.transcoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.function.UnaryOperator;
import org.cellcircuits.jobs.ConfigLoader;
import org.junit.jupiter.api.Test;

class TranscoderConfigTest {

    static TranscoderConfig.Builder base() {
        return TranscoderConfig.builder().modelName("demo-c2s").layer(3).dIn(16);
    }

    @Test
    void referenceConfDefaultsAreTheBuilderDefaults() {
        Config train = ConfigLoader.reference().getConfig("cellcircuits.train");
        TranscoderConfig fromConf = TranscoderConfig.fromConfig(train, "demo-c2s", 3, 16, 16);
        assertThat(fromConf).isEqualTo(base().build());
        assertThat(fromConf.dSae()).isEqualTo(128); // 8 x d_in, the paper
        assertThat(fromConf.l1Coefficient()).isEqualTo(1.4e-4);
        assertThat(fromConf.totalSteps()).isEqualTo(12_208); // ceil(50e6 / 4096)
        assertThat(fromConf.hookNameIn()).isEqualTo("blocks.3.ln2.hook_normalized");
        assertThat(fromConf.hookNameOut()).isEqualTo("blocks.3.hook_mlp_out");
        assertThat(fromConf.inputScale()).isNull();
    }

    @Test
    void runConfigValuesOverrideTheReference() {
        Config train = ConfigFactory.parseString("kind = sae, expansion-factor = 4, input-scale = 2.5, "
                + "target-scale = 2.5, lr-decay = cosine").withFallback(
                        ConfigLoader.reference().getConfig("cellcircuits.train"));
        TranscoderConfig c = TranscoderConfig.fromConfig(train, "m", 0, 32, 32);
        assertThat(c.kind()).isEqualTo(TranscoderKind.SAE);
        assertThat(c.dSae()).isEqualTo(128);
        assertThat(c.hookNameOut()).isEqualTo("blocks.0.ln2.hook_normalized");
        assertThat(c.inputScale()).isEqualTo(2.5);
        assertThat(c.lrDecay()).isEqualTo(LrDecay.COSINE);
        assertThat(c.hasFixedScaling()).isTrue();
    }

    @Test
    void badValuesAreRejectedNamingTheKeyAndTheValue() {
        expectInvalid(b -> b.l1Coefficient(-1), "train.l1-coefficient is invalid: -1.0");
        expectInvalid(b -> b.lr(0), "train.lr is invalid: 0.0");
        expectInvalid(b -> b.adamBeta1(1.0), "train.adam-beta1 is invalid: 1.0; need in [0, 1)");
        expectInvalid(b -> b.lrEnd(1), "train.lr-end is invalid: 1.0");
        expectInvalid(b -> b.trainingTokens(4096 * 100).lrWarmUpSteps(80).lrDecaySteps(30),
                "lr-warm-up-steps (80) + train.lr-decay-steps (30) exceed the run's 100 steps");
        expectInvalid(b -> b.kind(TranscoderKind.SAE).dOut(8), "kind is sae but d_out 8 differs from d_in 16");
        expectInvalid(b -> b.inputScale(0.0), "train.input-scale is invalid: 0.0");
        expectInvalid(b -> b.kind(TranscoderKind.SAE).inputScale(2.0).targetScale(3.0), "input-scale 2.0 differs");
        expectInvalid(b -> b.dtype("bfloat16"), "dtype is invalid: 'bfloat16'");
        expectInvalid(b -> b.modelName(" "), "model name is blank");
        expectInvalid(b -> b.deadFeatureWindow(0), "train.dead-feature-window-tokens is invalid: 0; need >= 1");
        assertThatThrownBy(() -> TranscoderKind.parse("crosscoder"))
                .hasMessageContaining("cellcircuits.train.kind is invalid: 'crosscoder'; need one of transcoder, sae");
    }

    static void expectInvalid(UnaryOperator<TranscoderConfig.Builder> change, String message) {
        assertThatThrownBy(() -> change.apply(base()).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void jsonRoundTripsAndTheHashFollowsEveryValue() {
        TranscoderConfig c = base().kind(TranscoderKind.TRANSCODER).dOut(12).inputScale(1.5).seed(7).build();
        TranscoderConfig back = TranscoderConfig.fromJson(c.toJson(), "test");
        assertThat(back).isEqualTo(c);
        assertThat(back.hash()).isEqualTo(c.hash());
        assertThat(c.toBuilder().build()).isEqualTo(c);
        assertThat(c.toBuilder().seed(8).build().hash()).isNotEqualTo(c.hash());
        assertThat(c.toBuilder().l1Coefficient(1.5e-4).build().hash()).isNotEqualTo(c.hash());
        assertThat(c.toJson().get("l1_coefficient").getAsDouble()).isEqualTo(1.4e-4);
        assertThat(c.toJson().get("hook_name_out").getAsString()).isEqualTo("blocks.3.hook_mlp_out");
    }

    @Test
    void jsonWithAMissingOrMistypedKeyNamesIt() {
        var json = base().build().toJson();
        json.remove("lr");
        assertThatThrownBy(() -> TranscoderConfig.fromJson(json, "ckpt/trainer_state.json"))
                .hasMessageContaining("ckpt/trainer_state.json lacks key lr");
        var json2 = base().build().toJson();
        json2.addProperty("d_sae", "many");
        assertThatThrownBy(() -> TranscoderConfig.fromJson(json2, "cfg.json"))
                .hasMessageContaining("cfg.json: key d_sae is \"many\"; need an integer");
    }

    @Test
    void architectureKeysAreReadValidatedAndRoundTrip() {
        Config train = ConfigFactory.parseString("activation = batchtopk, k = 12, aux-k-coefficient = 0.5, "
                + "l0-coefficient = 3, jumprelu-threshold-init = 0.3, jumprelu-bandwidth = 0.2, "
                + "batchtopk-threshold-rate = 0.05, skip-connection = true")
                .withFallback(ConfigLoader.reference().getConfig("cellcircuits.train"));
        TranscoderConfig c = TranscoderConfig.fromConfig(train, "m", 1, 16, 16);
        assertThat(c.architecture()).isEqualTo(
                new TranscoderArchitecture(Activation.BATCHTOPK, 12, 0.5, 3, 0.3, 0.2, 0.05, true));
        assertThat(c.sparsityCoefficient()).as("k, not a penalty, sets batchtopk's sparsity").isZero();
        assertThat(TranscoderConfig.fromJson(c.toJson(), "test")).isEqualTo(c);
        assertThat(c.hash()).isNotEqualTo(c.toBuilder().skipConnection(false).build().hash());
        assertThat(c.toBuilder().activation(Activation.JUMPRELU).build().sparsityCoefficient()).isEqualTo(3);
        assertThat(c.toBuilder().activation(Activation.RELU).build().sparsityCoefficient()).isEqualTo(1.4e-4);

        // A cfg.json or checkpoint written before the keys existed was ReLU + L1 without skip.
        var legacy = base().build().toJson();
        for (String key : new String[] {"activation", "k", "aux_loss_coefficient", "l0_coefficient",
            "jumprelu_init_threshold", "jumprelu_bandwidth", "topk_threshold_lr", "skip_connection"}) {
            legacy.remove(key);
        }
        assertThat(TranscoderConfig.fromJson(legacy, "old/cfg.json").architecture())
                .isEqualTo(TranscoderArchitecture.DEFAULT);

        expectInvalid(b -> b.activation(Activation.TOPK).k(200), "train.k is invalid: 200; need <= d_sae (128)");
        expectInvalid(b -> b.k(0), "train.k is invalid: 0; need >= 1");
        expectInvalid(b -> b.l0Coefficient(-1), "train.l0-coefficient is invalid: -1.0");
        expectInvalid(b -> b.kind(TranscoderKind.SAE).skipConnection(true), "skip connections are for transcoders");
        assertThatThrownBy(() -> new TranscoderArchitecture(Activation.JUMPRELU, 4, 0, 1, 0, 0.1, 0.01, false))
                .hasMessageContaining("train.jumprelu-threshold-init is invalid: 0.0; need > 0");
        assertThatThrownBy(() -> new TranscoderArchitecture(Activation.JUMPRELU, 4, 0, 1, 0.1, 0.1, 1.5, false))
                .hasMessageContaining("train.batchtopk-threshold-rate is invalid: 1.5; need in (0, 1]");
        assertThatThrownBy(() -> Activation.parse("gated"))
                .hasMessageContaining(
                        "cellcircuits.train.activation is invalid: 'gated'; need one of relu, topk, batchtopk, jumprelu");
    }

    @Test
    void savedArchitectureNamesAreSaeLenssAndCircuitTracers() {
        TranscoderArchitecture d = TranscoderArchitecture.DEFAULT;
        assertThat(d.saeLensArchitecture(TranscoderKind.TRANSCODER)).isEqualTo("transcoder");
        assertThat(d.withSkipConnection(true).saeLensArchitecture(TranscoderKind.TRANSCODER))
                .isEqualTo("skip_transcoder");
        assertThat(d.withActivation(Activation.JUMPRELU).saeLensArchitecture(TranscoderKind.TRANSCODER))
                .isEqualTo("jumprelu_transcoder");
        assertThat(d.withActivation(Activation.BATCHTOPK).withSkipConnection(true)
                .saeLensArchitecture(TranscoderKind.TRANSCODER)).isEqualTo("jumprelu_skip_transcoder");
        assertThat(d.withActivation(Activation.TOPK).saeLensArchitecture(TranscoderKind.TRANSCODER))
                .isEqualTo("topk_transcoder");
        assertThat(d.saeLensArchitecture(TranscoderKind.SAE)).isEqualTo("standard");
        assertThat(d.withActivation(Activation.TOPK).saeLensArchitecture(TranscoderKind.SAE)).isEqualTo("topk");
        assertThat(d.withActivation(Activation.BATCHTOPK).saeLensArchitecture(TranscoderKind.SAE))
                .isEqualTo("jumprelu");
        assertThat(d.withActivation(Activation.BATCHTOPK).circuitTracerActivation()).isEqualTo("jump_relu");
        assertThat(d.withActivation(Activation.TOPK).circuitTracerActivation()).isEqualTo("topk");
        assertThat(d.circuitTracerActivation()).isEqualTo("relu");
    }
}
