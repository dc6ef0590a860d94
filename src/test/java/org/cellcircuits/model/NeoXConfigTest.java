package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NeoXConfigTest {

    @TempDir
    Path dir;

    static final String PYTHIA_410M = """
            {"architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu",
             "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 4096, "layer_norm_eps": 1e-05,
             "max_position_embeddings": 2048, "model_type": "gpt_neox", "num_attention_heads": 16,
             "num_hidden_layers": 24, "rotary_emb_base": 10000, "rotary_pct": 0.25, "tie_word_embeddings": false,
             "torch_dtype": "float16", "transformers_version": "4.24.0", "use_cache": true,
             "use_parallel_residual": true, "vocab_size": 50304}
            """;

    private Path write(String json) throws IOException {
        Path p = dir.resolve("config.json");
        Files.writeString(p, json);
        return p;
    }

    @Test
    void readsPythia410m() throws IOException {
        NeoXConfig c = NeoXConfig.read(write(PYTHIA_410M));
        assertThat(c).isEqualTo(new NeoXConfig(1024, 16, 24, 4096, 0.25, 10000, true, 1e-5, 50304, 2048, false, true, 0));
        assertThat(c.headSize()).isEqualTo(64);
        assertThat(c.rotaryDims()).isEqualTo(16);
        assertThat(NeoXConfig.read(write(c.toJson().toString()))).isEqualTo(c);
    }

    @Test
    void newerKeyNamesAreAccepted() throws IOException {
        NeoXConfig c = NeoXConfig.read(write(PYTHIA_410M.replace("\"rotary_emb_base\": 10000", "\"rope_theta\": 500")
                .replace("\"rotary_pct\": 0.25", "\"partial_rotary_factor\": 0.5")));
        assertThat(c.rotaryBase()).isEqualTo(500);
        assertThat(c.rotaryPct()).isEqualTo(0.5);
    }

    @Test
    void errorsNameTheFileAndTheKey() throws IOException {
        Path p = write(PYTHIA_410M.replace("\"num_attention_heads\": 16", "\"num_attention_heads\": 15"));
        assertThatThrownBy(() -> NeoXConfig.read(p)).hasMessageContaining(p.toString())
                .hasMessageContaining("hidden_size 1024 is not divisible by num_attention_heads 15");
        assertThatThrownBy(() -> NeoXConfig.read(write(PYTHIA_410M.replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"gelu_new\""))))
                .hasMessageContaining("hidden_act is gelu_new");
        assertThatThrownBy(() -> NeoXConfig.read(write(PYTHIA_410M.replace("\"hidden_size\": 1024,", ""))))
                .hasMessageContaining("required key hidden_size is missing");
        assertThatThrownBy(() -> NeoXConfig.read(write(PYTHIA_410M.replace("\"vocab_size\": 50304", "\"vocab_size\": \"big\""))))
                .hasMessageContaining("key vocab_size is \"big\"; expected an integer");
        assertThatThrownBy(() -> NeoXConfig.read(write(PYTHIA_410M.replace("\"use_parallel_residual\": true", "\"use_parallel_residual\": 1"))))
                .hasMessageContaining("key use_parallel_residual is 1; expected true or false");
        assertThatThrownBy(() -> NeoXConfig.read(write(PYTHIA_410M.replace("\"rotary_pct\": 0.25", "\"rotary_pct\": 0.01"))))
                .hasMessageContaining("rotary_pct 0.01 of head size 64 gives 0 rotary dims");
        assertThatThrownBy(() -> NeoXConfig.read(write(PYTHIA_410M.replace("gpt_neox", "llama"))))
                .hasMessageContaining("model_type is llama");
        assertThatThrownBy(() -> NeoXConfig.read(write("[1]"))).hasMessageContaining(p.toString()).hasMessageContaining("not a JSON object");
    }
}
