package org.cellcircuits.harvest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.junit.jupiter.api.Test;

/** The harvest and model config sections as the harvest reads them. */
class HarvestParamsTest {
  private static HarvestParams params(String... overrides) {
    return HarvestParams.fromConfig(HarvestFixtures.config("runs/x", Path.of("demo/model"), overrides));
  }

  @Test
  void referenceDefaults() {
    HarvestParams p = params();
    assertThat(p.model().path()).isEqualTo("demo/model");
    assertThat(p.layers()).isEmpty();
    assertThat(p.layersFor(6, "m")).containsExactly(0, 1, 2, 3, 4, 5);
    assertThat(p.tokens()).isEqualTo(TokenPolicy.all());
    assertThat(p.vectorFormat()).isEqualTo(VectorFormat.FP16);
    assertThat(p.tokensPerBatch()).isEqualTo(4096);
    assertThat(p.cellsPerTask()).isEqualTo(256);
    assertThat(p.compression()).isEqualTo(CompressionCodecName.ZSTD);
    assertThat(p.rowGroupBytes()).isEqualTo(32L << 20);
    assertThat(p.model().batchSize()).isEqualTo(8);
    assertThat(p.model().maxNewTokens()).isEqualTo(16);
    assertThat(p.model().stopAtPeriod()).isTrue();
  }

  @Test
  void overridesAreReadAndLayersSorted() {
    HarvestParams p = params("harvest.layers=[5, 0, 2]", "harvest.tokens=fraction", "harvest.token-fraction=0.25",
        "harvest.token-seed=3", "harvest.vector-format=bf16", "harvest.compression=snappy",
        "harvest.row-group-size=8m");
    assertThat(p.layers()).containsExactly(0, 2, 5);
    assertThat(p.tokens()).isEqualTo(TokenPolicy.fraction(0.25, 3));
    assertThat(p.vectorFormat()).isEqualTo(VectorFormat.BF16);
    assertThat(p.compression()).isEqualTo(CompressionCodecName.SNAPPY);
    assertThat(p.rowGroupBytes()).isEqualTo(8L << 20);
    assertThat(params("harvest.tokens=genes").tokens()).isEqualTo(TokenPolicy.genes());
  }

  @Test
  void badValuesNameTheKey() {
    assertThatThrownBy(() -> params("harvest.layers=[1, 1]")).hasMessage(
        "cellcircuits.harvest.layers names layer 1 twice");
    assertThatThrownBy(() -> params("harvest.layers=[2]").layersFor(2, "demo/model")).hasMessage(
        "cellcircuits.harvest.layers names layer 2, but model demo/model has 2 layers (0..1)");
    assertThatThrownBy(() -> params("harvest.tokens-per-batch=0")).hasMessage(
        "cellcircuits.harvest.tokens-per-batch is invalid: 0; need >= 1");
    assertThatThrownBy(() -> params("harvest.cells-per-task=0")).hasMessage(
        "cellcircuits.harvest.cells-per-task is invalid: 0; need >= 1");
    assertThatThrownBy(() -> params("harvest.compression=brotli")).hasMessage(
        "cellcircuits.harvest.compression is invalid: 'brotli'; need one of uncompressed, none, snappy, zstd, gzip, "
        + "lz4_raw, lz4-raw");
    assertThatThrownBy(() -> params("harvest.vector-format=fp8")).hasMessage(
        "cellcircuits.harvest.vector-format is invalid: 'fp8'; need one of fp16, bf16, float16, bfloat16");
    assertThatThrownBy(() -> params("harvest.tokens=some")).hasMessage(
        "cellcircuits.harvest.tokens is invalid: 'some'; need one of all, genes, fraction");
    assertThatThrownBy(() -> params("harvest.tokens=fraction", "harvest.token-fraction=0")).hasMessage(
        "cellcircuits.harvest.token-fraction is invalid: 0.0; need in (0, 1] for the fraction policy");
    assertThatThrownBy(() -> params("harvest.row-group-size=1k")).hasMessage(
        "cellcircuits.harvest.row-group-size is 1024 bytes; expected at least 1m");
    assertThatThrownBy(() -> params("model.batch-size=0")).hasMessage(
        "cellcircuits.model.batch-size is invalid: 0; need >= 1");
    assertThat(List.of(params("harvest.tokens=fraction").tokens().fraction())).containsExactly(0.1);
  }
}
