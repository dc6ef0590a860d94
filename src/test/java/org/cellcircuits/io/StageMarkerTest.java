package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.ConfigFactory;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StageMarkerTest {
  private static StageMarker marker() {
    String config = CanonicalConfig.json(ConfigFactory.parseString(
        "sentences { top-k = 200, prompt = \"Cell sentence: {cell_sentence}.\\nThe cell type is:\", organism = "
            + "\"Homo sapiens\", min-genes = 0.5 }"));
    return new StageMarker(1, "sentences", "20250101-120000-0a1b2c3d", CanonicalConfig.sha256Hex(config), config,
        Map.of("atlas", "path=s3a://b/heart.h5ad length=123 mtime=456", "stage:x", "attempt=a config=b"),
        Map.of("sentences", 9_876_543_210L, "dropped/cells", 0L),
        Map.of("cells_filtered", 12.0, "mean_genes", 1834.25),
        Instant.parse("2025-01-01T12:00:03.123Z"),
        new SoftwareVersions("0.1.0", "3.5.9", "0.36.0", "17.0.2"));
  }

  @Test
  void roundTripsThroughJson() {
    StageMarker m = marker();
    assertThat(StageMarker.fromJson(m.toJson(), "test")).isEqualTo(m);
  }

  @Test
  void writesTheDocumentedFields() {
    JsonObject o = JsonParser.parseString(marker().toJson()).getAsJsonObject();
    assertThat(o.keySet()).containsExactly("format_version", "stage", "attempt_id", "attempt_folder", "config_hash",
        "config", "inputs", "row_counts", "stats", "created_at", "versions");
    assertThat(o.get("attempt_folder").getAsString()).isEqualTo("attempt-20250101-120000-0a1b2c3d");
    assertThat(o.getAsJsonObject("config").getAsJsonObject("sentences").get("top-k").getAsInt()).isEqualTo(200);
    assertThat(o.getAsJsonObject("row_counts").get("sentences").getAsLong()).isEqualTo(9_876_543_210L);
    // A whole-valued stat reads as an integer, a fractional one keeps its fraction.
    assertThat(o.getAsJsonObject("stats").get("cells_filtered").toString()).isEqualTo("12");
    assertThat(o.getAsJsonObject("stats").get("mean_genes").toString()).isEqualTo("1834.25");
    assertThat(o.get("created_at").getAsString()).isEqualTo("2025-01-01T12:00:03.123Z");
    assertThat(o.getAsJsonObject("versions").get("spark").getAsString()).isEqualTo("3.5.9");
  }

  @Test
  void currentVersionsComeFromTheClasspath() {
    SoftwareVersions v = SoftwareVersions.current();
    assertThat(v.cellcircuits()).matches("\\d+\\.\\d+\\.\\d+.*");
    assertThat(v.spark()).startsWith("3.5.");
    assertThat(v.djl()).isEqualTo("0.36.0");
    assertThat(v.java()).isEqualTo(System.getProperty("java.version"));
  }

  @Test
  void badMarkersAreRejectedNamingTheFileAndField() {
    String good = marker().toJson();
    assertThatThrownBy(() -> StageMarker.fromJson(good.replace("\"attempt_id\"", "\"attempt\""), "/r/s/_COMMITTED.json"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("marker /r/s/_COMMITTED.json has no field 'attempt_id'");
    assertThatThrownBy(() -> StageMarker.fromJson(good.substring(0, good.length() / 2), "/r/s/_COMMITTED.json"))
        .hasMessageStartingWith("marker /r/s/_COMMITTED.json is not valid JSON");
    assertThatThrownBy(() -> StageMarker.fromJson(good.replace("\"format_version\": 1", "\"format_version\": 2"), "m"))
        .hasMessageContaining("format_version 2 is not supported");
    assertThatThrownBy(() -> StageMarker.fromJson(good.replace("\"sentences\": 9876543210", "\"sentences\": -1"), "m"))
        .hasMessageContaining("row count of table sentences in stage sentences is -1");
    assertThatThrownBy(() -> StageMarker.fromJson(good.replaceFirst("\"config_hash\": \"[0-9a-f]+\"",
        "\"config_hash\": \"abc\""), "m"))
        .hasMessageContaining("config_hash 'abc' of stage sentences is invalid");
  }
}
