package org.cellcircuits.sentences;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The documented defaults in conf/reference.conf are AtlasOptions.defaults(); overrides and bad values. */
class AtlasOptionsTest {

  private static Config atlasSection() {
    return ConfigFactory.parseFile(Path.of("conf/reference.conf").toFile()).resolve()
        .getConfig("cellcircuits.sentences.atlas");
  }

  @Test
  void referenceConfMatchesTheDefaults() {
    assertThat(AtlasOptions.fromConfig(atlasSection())).isEqualTo(AtlasOptions.defaults());
    assertThat(AtlasOptions.defaults().obsColumns()).containsExactly("cell_type", "donor_id", "tissue");
  }

  @Test
  void overridesAndNulls() {
    Config c = ConfigFactory.parseString("gene-symbol-column = feature_name, use-raw = true, donor-column = null, "
        + "tissue-column = null, remote-access = RANGE, obs-csv = \"s3a://b/obs.csv\"").withFallback(atlasSection());
    AtlasOptions o = AtlasOptions.fromConfig(c);
    assertThat(o.geneSymbolColumn()).isEqualTo("feature_name");
    assertThat(o.useRaw()).isTrue();
    assertThat(o.obsColumns()).containsExactly("cell_type");
    assertThat(o.remoteAccess()).isEqualTo(AtlasOptions.RemoteAccess.RANGE);
    assertThat(o.obsCsv()).isEqualTo("s3a://b/obs.csv");
  }

  @Test
  void badValuesAreNamed() {
    assertThatThrownBy(() -> AtlasOptions.fromConfig(ConfigFactory.parseString("remote-access = copy")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cellcircuits.sentences.atlas.remote-access is invalid: 'copy'; need one of stage, range");
    assertThatThrownBy(() -> AtlasOptions.fromConfig(ConfigFactory.parseString("remote-access = null")))
        .hasMessage("cellcircuits.sentences.atlas.remote-access is invalid: 'null'; need one of stage, range");
    assertThatThrownBy(() -> AtlasOptions.defaults().withGeneSymbolColumn(" "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("gene symbol column is invalid: ' '; expected a name or null");
  }
}
